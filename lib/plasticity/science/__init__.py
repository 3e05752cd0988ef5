"""The science: statistics, verdict rules, the seeds' published numbers, the declared
experiment tables and the registry of claims."""
