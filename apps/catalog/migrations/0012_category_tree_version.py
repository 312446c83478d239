"""The category tree's version on PostgreSQL: a one-row table whose number a statement trigger
renews (from a sequence, so a number is never used twice, even after a rollback) on every insert,
delete, truncate and update of a category's id, slug or parent, bulk and hand-written SQL
included. The list's category pages read the tree from a copy kept in each process and check,
inside their own query, that this number is still the one the copy was read at
(selectors.product_list_start). SQLite (the local default) has neither; its list reads the tree
in every query."""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE IF NOT EXISTS catalog_category_tree_version_seq;
CREATE TABLE IF NOT EXISTS catalog_category_tree_version (
    id smallint PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO catalog_category_tree_version (id, version)
    VALUES (1, nextval('catalog_category_tree_version_seq')) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION catalog_category_tree_version_renew() RETURNS trigger AS $$
BEGIN
    INSERT INTO catalog_category_tree_version (id, version)
        VALUES (1, nextval('catalog_category_tree_version_seq'))
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS catalog_category_tree_version ON catalog_category;
CREATE TRIGGER catalog_category_tree_version
    AFTER INSERT OR UPDATE OF id, slug, parent_id OR DELETE ON catalog_category
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_category_tree_version_renew();
DROP TRIGGER IF EXISTS catalog_category_tree_version_truncate ON catalog_category;
CREATE TRIGGER catalog_category_tree_version_truncate
    AFTER TRUNCATE ON catalog_category
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_category_tree_version_renew();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS catalog_category_tree_version_truncate ON catalog_category;
DROP TRIGGER IF EXISTS catalog_category_tree_version ON catalog_category;
DROP FUNCTION IF EXISTS catalog_category_tree_version_renew();
DROP TABLE IF EXISTS catalog_category_tree_version;
DROP SEQUENCE IF EXISTS catalog_category_tree_version_seq;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_outbox_traceparent")]

    operations = [migrations.RunPython(forward, backward)]
