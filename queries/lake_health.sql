-- Rows that did not make it to silver, and trades that arrived after their gold window closed.
SELECT 'dead letters (trades)' AS what, count(*) AS rows FROM dead_letters
UNION ALL SELECT 'dead letters (crypto)', count(*) FROM dead_letters_crypto
UNION ALL SELECT 'dead letters (transactions)', count(*) FROM dead_letters_transactions
UNION ALL SELECT 'late trades (gold_trades_1m)', count(*) FROM gold_trades_1m_late
ORDER BY what;
