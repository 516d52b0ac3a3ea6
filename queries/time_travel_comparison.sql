-- Time travel: silver trades now against the table's first data commit (version 2: version 0
-- creates the table, version 1 places it in its pipeline before any rows).
-- Any table can be read at a version ("name@vN") or a time ("name@2026-11-27T10:00:00Z").
SELECT 'latest' AS state, count(*) AS trades, round(sum(notional), 2) AS notional_usd
FROM silver_trades
UNION ALL
SELECT 'version 2', count(*), round(sum(notional), 2)
FROM "silver_trades@v2"
ORDER BY state;
