-- Top symbols by traded volume over every closed 1-minute window (gold).
SELECT symbol,
       sum(volume)                 AS volume,
       round(sum(notional), 2)     AS notional_usd,
       sum(trades)                 AS trades,
       round(sum(notional) / sum(volume), 4) AS vwap
FROM gold_trades_1m
GROUP BY symbol
ORDER BY volume DESC
LIMIT 5;
