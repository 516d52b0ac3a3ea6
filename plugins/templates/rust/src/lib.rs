use finlake_plugin_sdk::{Config, Emitter, Plugin, Record, export_plugin, serde_json};

struct MyPlugin;

impl Plugin for MyPlugin {
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(_config: Config) -> Result<Self, String> {
        Ok(MyPlugin)
    }

    fn process(&mut self, record: &Record<'_>, out: &mut Emitter) -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_slice(record.value).map_err(|e| format!("not JSON: {e}"))?;
        let symbol = v["symbol"].as_str().ok_or("symbol is missing")?;
        let price = v["price"].as_f64().filter(|p| *p > 0.0).ok_or("price must be a positive number")?;
        out.emit("out", &serde_json::json!({ "symbol": symbol, "price": price, "price_cents": (price * 100.0).round() as i64 }));
        Ok(())
    }
}

export_plugin!(MyPlugin);
