"""The Analytics port on ClickHouse through clickhouse-connect: a server over HTTP, or embedded chdb (`chdb:///path`)."""
