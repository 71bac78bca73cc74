"""What every HTTP request passes through, outside the three blueprints: URL
converters, error pages, security headers, static files, /healthz and /metrics."""
