"""crypto-enrich: per-coin rolling statistics for crypto price ticks.

Input: {"symbol": "BTC", "price": 64123.5, "volume_24h": 1.2e10, "ts": 1764218700000}
Output `prices`: the tick plus the previous price, the change against it (the spread, in
percent), simple moving averages over 5 and `window` ticks, the z-score of the price within the
window, and `is_outlier` when |z| exceeds `outlier_z`.

Config: {"window": 20, "outlier_z": 3.0}. State (the recent prices per coin) lives in the
instance: it starts empty after a restart.
"""
from collections import deque
import math

from finlake_plugin import export


class CryptoEnrich:
    NAME = "crypto-enrich"
    VERSION = "0.1.0"

    def __init__(self, config):
        self.window = int(config.get("window", 20))
        self.outlier_z = float(config.get("outlier_z", 3.0))
        if self.window < 2:
            raise ValueError("window must be at least 2")
        self.history = {}

    def process(self, record, out):
        tick = record.value_json()
        symbol = str(tick.get("symbol", "")).upper()
        if not symbol or len(symbol) > 10:
            raise ValueError(f"symbol {symbol!r} is not a coin ticker")
        price = tick.get("price")
        if not isinstance(price, (int, float)) or isinstance(price, bool) or not price > 0:
            raise ValueError(f"price {price!r} is not a positive number")
        prices = self.history.setdefault(symbol, deque(maxlen=self.window))
        prev = prices[-1] if prices else None
        prices.append(float(price))
        n = len(prices)
        mean = sum(prices) / n
        var = sum((p - mean) ** 2 for p in prices) / n
        std = math.sqrt(var)
        z = (price - mean) / std if std > 0 else 0.0
        last5 = list(prices)[-5:]
        out.emit(
            "prices",
            {
                "symbol": symbol,
                "price": float(price),
                "volume_24h": tick.get("volume_24h"),
                "prev_price": prev,
                "change_pct": None if prev is None else (price - prev) / prev * 100.0,
                "sma_5": sum(last5) / len(last5),
                "sma_window": mean,
                "zscore": z,
                "is_outlier": n >= 5 and abs(z) > self.outlier_z,
                "event_time": tick.get("ts", record.timestamp),
            },
        )


Transform = export(CryptoEnrich)
