"""The dev stack: private Apache Kafka (KRaft) and MariaDB servers for integration tests and demos.

Servers run as child processes bound to 127.0.0.1 on free ports, each in its own temporary directory.
`fixtures.py` exposes them to pytest (`kafka_broker`, `mariadb`); `cli.py` (`python -m tests.devstack`)
keeps them running in the background for manual use.
"""
