-- Per-coin intraminute range as a share of the open, and outlier ticks (gold).
SELECT symbol,
       count(*)                                      AS minutes,
       round(avg((high - low) / open) * 100, 4)      AS avg_range_pct,
       round(max((high - low) / open) * 100, 4)      AS max_range_pct,
       sum(ticks)                                    AS ticks,
       sum(outliers)                                 AS outliers
FROM gold_crypto_1m
GROUP BY symbol
ORDER BY avg_range_pct DESC;
