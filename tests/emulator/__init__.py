"""Stream Load emulator for Apache Doris and StarRocks, backed by MariaDB.

A database in the emulator is a MariaDB database and a table is a MariaDB table created with
`tables.create_table` (which records the key model in the table comment). The HTTP surface (FE and BE
endpoints) lives in `server`; the pytest fixtures in `fixtures`; the CLI in `__main__`.
"""
