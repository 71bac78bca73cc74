"""File writers: rows and figures in, bytes out (xlsx, csv). No queries: the
service that drives them (survey_engine/exporting) reads the database."""
