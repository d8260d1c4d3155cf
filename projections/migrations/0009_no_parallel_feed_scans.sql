-- The feeds read a page: a walk of one index that stops after a few dozen entries. The planner, costing
-- such a walk by its estimate of the whole range (a word prefix's frequency is a flat guess), may start
-- a parallel worker for it; starting one costs more than the page, and far more on a busy machine (a
-- search on a busy contact's feed: 5.7 ms without, 75 ms with, under load). The read tables are never
-- scanned whole by the module, so none of their scans is parallel.
ALTER TABLE interactions SET (parallel_workers = 0);
ALTER TABLE interaction_involvements SET (parallel_workers = 0);
ALTER TABLE interaction_parties SET (parallel_workers = 0);
