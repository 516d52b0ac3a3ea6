/*
 * trade-filter: keeps trades whose notional (price x quantity) reaches `min_notional`, projected
 * to {symbol, price, quantity, notional}. Smaller trades are filtered out (no row, by design);
 * records without a symbol, price or quantity are rejected.
 *
 * Config: {"min_notional": 10000}
 */
#define FINLAKE_PLUGIN_NAME "trade-filter"
#define FINLAKE_PLUGIN_VERSION "0.1.0"
#include "finlake_plugin.h"

static double min_notional = 0.0;

int plugin_init(const char *config, size_t len, const char **error) {
  double v;
  if (finlake_json_number((const uint8_t *)config, len, "min_notional", &v)) {
    if (v < 0) {
      *error = "min_notional must not be negative";
      return 1;
    }
    min_notional = v;
  }
  return 0;
}

int plugin_process(const finlake_record *r, finlake_emitter *out, const char **reason) {
  const char *symbol;
  size_t symbol_len;
  double price, quantity;
  if (!finlake_json_string(r->value, r->value_len, "symbol", &symbol, &symbol_len) || symbol_len == 0) {
    *reason = "symbol is missing";
    return 1;
  }
  if (!finlake_json_number(r->value, r->value_len, "price", &price) || !(price > 0)) {
    *reason = "price is missing or not positive";
    return 1;
  }
  if (!finlake_json_number(r->value, r->value_len, "quantity", &quantity) || !(quantity > 0)) {
    *reason = "quantity is missing or not positive";
    return 1;
  }
  double notional = price * quantity;
  if (notional < min_notional) return 0;
  finlake_emit_append(out, "{\"symbol\":\"", 11);
  finlake_emit_append(out, symbol, symbol_len);
  finlake_emit_appendf(out, "\",\"price\":%.17g,\"quantity\":%.17g,\"notional\":%.17g}", price, quantity, notional);
  finlake_emit_row(out, "trades");
  return 0;
}
