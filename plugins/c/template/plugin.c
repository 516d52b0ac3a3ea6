/* {{name}}: emits {symbol, price, price_cents} for records with a positive price. */
#define FINLAKE_PLUGIN_NAME "{{name}}"
#define FINLAKE_PLUGIN_VERSION "0.1.0"
#include "finlake_plugin.h"

int plugin_init(const char *config, size_t len, const char **error) {
  (void)config;
  (void)len;
  (void)error;
  return 0;
}

int plugin_process(const finlake_record *r, finlake_emitter *out, const char **reason) {
  const char *symbol;
  size_t symbol_len;
  double price;
  if (!finlake_json_string(r->value, r->value_len, "symbol", &symbol, &symbol_len)) {
    *reason = "symbol is missing";
    return 1;
  }
  if (!finlake_json_number(r->value, r->value_len, "price", &price) || !(price > 0)) {
    *reason = "price must be a positive number";
    return 1;
  }
  finlake_emit_append(out, "{\"symbol\":\"", 11);
  finlake_emit_append(out, symbol, symbol_len);
  finlake_emit_appendf(out, "\",\"price\":%.17g,\"price_cents\":%lld}", price, (long long)(price * 100.0 + 0.5));
  finlake_emit_row(out, "out");
  return 0;
}
