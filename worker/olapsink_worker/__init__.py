"""olapsink worker: consume from Kafka, convert, load into Doris/StarRocks with Stream Load."""
