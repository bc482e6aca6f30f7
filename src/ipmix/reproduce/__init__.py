"""Reproduce the paper's tables at a chosen budget (`ipmix reproduce`).

- `paper`: the paper's numbers as data (`paper_numbers.csv`, each tied to table/row/column);
- `tables`: each table as a grid of method x model x dataset (x seed) with its metric;
- `budgets`: ``smoke``, ``cpu`` and ``paper``;
- `cells`: grid entries resolved to shared training + evaluation configurations (run folders);
- `runner`: trains and evaluates what is not done, records per-image predictions;
- `records`, `values`: bootstrap intervals over test images, mean ± std over seeds;
- `ledger`: each done cell's metrics and intervals in a small committed file, so results
  outlive the machine that ran them;
- `output`, `plots`: the reproduced tables beside the paper's (markdown, JSON, PNG);
- `cost`: the dry run's estimate from the committed speed tables;
- `job`: all of it as one call, `reproduce(tables, budget, out)`.
"""

from ipmix.reproduce.job import dry_run_text, plan, reproduce

__all__ = ["dry_run_text", "plan", "reproduce"]
