"""Results for analysts: filters, statistics and the responses they select."""
