-- Share of card transactions the screen flagged, per hour of event time (silver).
SELECT date_trunc('hour', event_time)                                   AS hour,
       count(*)                                                         AS transactions,
       sum(CASE WHEN risk = 'high' THEN 1 ELSE 0 END)                   AS high_risk,
       sum(CASE WHEN risk <> 'low' THEN 1 ELSE 0 END)                   AS flagged,
       round(100.0 * sum(CASE WHEN risk <> 'low' THEN 1 ELSE 0 END) / count(*), 2) AS flagged_pct
FROM silver_transactions
GROUP BY 1
ORDER BY 1 DESC
LIMIT 48;
