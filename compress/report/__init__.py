"""Reporting: the runs a report compares (`runs`), its tables (`tables`), plots (`plots`), the
markdown + HTML page (`html`), the run's console tables (`console`), the W&B Report (`wandb_report`),
runs read back from W&B (`wandb_runs`) and the command line (`cli`, `python -m compress.report`)."""
