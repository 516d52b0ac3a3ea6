-- Time travel: silver trades now against the table's first data commit (version 1).
-- Any table can be read at a version ("name@vN") or a time ("name@2026-11-27T10:00:00Z").
SELECT 'latest' AS state, count(*) AS trades, round(sum(notional), 2) AS notional_usd
FROM silver_trades
UNION ALL
SELECT 'version 1', count(*), round(sum(notional), 2)
FROM "silver_trades@v1"
ORDER BY state;
