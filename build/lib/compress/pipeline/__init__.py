"""The pipeline: runs the stage table in order (`runner`), reusing finished stages by fingerprint
(`fingerprint`, `store`), after preflight has asked every selected part what it lacks (`preflight`);
`hydra_info` reads the running job's state from Hydra."""
