-- Traded volume and notional per asset class and minute (gold).
SELECT asset_class, window_start, volume, round(notional, 2) AS notional_usd, trades, symbols
FROM gold_volume_by_asset_class_1m
ORDER BY window_start DESC, asset_class
LIMIT 60;
