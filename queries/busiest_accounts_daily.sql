-- Accounts with the most spend per day, and how many of their transactions were flagged (gold).
SELECT window_start AS day, account, transactions, round(total_usd, 2) AS total_usd,
       round(max_usd, 2) AS max_usd, flagged, countries, merchant_categories
FROM gold_account_daily
ORDER BY total_usd DESC
LIMIT 20;
