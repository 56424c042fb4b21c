"""The live sensor: which workloads are inspected (:mod:`.workloads`), whose alerts name them
(:mod:`.attribution`), worker processes on AF_PACKET rings (:mod:`.worker`), and the process that
runs them, reloads them and serves their metrics (:mod:`.supervisor`)."""
