from finlake_plugin import export


class MyPlugin:
    NAME = "{{name}}"
    VERSION = "0.1.0"

    def __init__(self, config):
        self.config = config

    def process(self, record, out):
        v = record.value_json()
        symbol = v.get("symbol")
        price = v.get("price")
        if not isinstance(symbol, str):
            raise ValueError("symbol is missing")
        if not isinstance(price, (int, float)) or isinstance(price, bool) or price <= 0:
            raise ValueError("price must be a positive number")
        out.emit("out", {"symbol": symbol, "price": price, "price_cents": round(price * 100)})


Transform = export(MyPlugin)
