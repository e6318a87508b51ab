"""Sweeps: the metric each job returns (`objective`), each job's status (`jobs`), the sweep's summary
(`summary`) and the Hydra callbacks that check the metric first and write the summary and report last
(`callbacks`)."""
