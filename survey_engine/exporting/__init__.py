"""Export files of a survey: the service between the staff pages or CLI and the writers.

survey_file.py reads what an export needs (versions, responses the filters keep) and
hands rows and figures to the writers of exports/; files.py keeps the ExportFile
rows of exports asked for on the staff pages (queued, progress, finished, expired).
"""
