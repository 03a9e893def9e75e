"""LLMs in the pipeline: one client (cache, budget, retries) behind a judge, pairwise comparison,
calibration, generation and rewriting; see docs/llm.md.

Modules: config (settings), request, cache, budget, retry, backends, client, session; parsing,
rubric, judge, calibrate; dedup, generate; rewrite; stage and rewrite_stage (recipe stages);
report (the report section); io, options, commands, cli (the commands).
"""
