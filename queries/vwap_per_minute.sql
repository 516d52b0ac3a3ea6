-- 1-minute OHLCV and VWAP per symbol, newest windows first (gold).
SELECT symbol, window_start, open, high, low, close, volume, round(vwap, 4) AS vwap, trades
FROM gold_trades_1m
ORDER BY window_start DESC, symbol
LIMIT 50;
