// The API reference page (/api/docs): renders /api/openapi.json.
