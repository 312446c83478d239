"""Product search on PostgreSQL: a trigger keeps Product.search_vector in step with name (weight
A), brand (B) and description (C) on every insert and update, bulk ones included, and a GIN index
serves the @@ match. SQLite (the local default) has neither; search falls back to icontains."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION catalog_product_search_vector_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.name, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.brand, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS catalog_product_search_vector ON catalog_product;
CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF name, brand, description, search_vector ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector_update();

UPDATE catalog_product SET name = name;
CREATE INDEX IF NOT EXISTS catalog_product_search_gin ON catalog_product USING gin (search_vector);
"""

BACKWARD = """
DROP INDEX IF EXISTS catalog_product_search_gin;
DROP TRIGGER IF EXISTS catalog_product_search_vector ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_vector_update();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_catalog_models")]

    operations = [migrations.RunPython(forward, backward)]
