class MyPlugin {
  static NAME = '{{name}}';
  static VERSION = '0.1.0';

  constructor(config) {
    this.config = config;
  }

  process(record, out) {
    const v = record.valueJson();
    if (typeof v.symbol !== 'string') throw new Error('symbol is missing');
    if (typeof v.price !== 'number' || !(v.price > 0)) throw new Error('price must be a positive number');
    out.emit('out', { symbol: v.symbol, price: v.price, price_cents: Math.round(v.price * 100) });
  }
}

export const transform = exportPlugin(MyPlugin);
