"""REST API of the credit file (serializers, filters, views, routes under /api/v1/)."""
