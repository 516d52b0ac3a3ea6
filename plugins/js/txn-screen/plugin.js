// txn-screen: a rules-based screen of bank/card transactions, with currency normalization.
//
// Input: {"txn_id":"T1","account":"A17","amount":950.0,"currency":"EUR",
//         "merchant_category":"electronics","country":"FR","ts":1764218700000}
// Output `screened`: the transaction with amount_usd, the rules it tripped, a risk score and
// level. An unknown currency or a malformed amount rejects the record.
//
// Output `scoring` (only with config "forward_for_scoring": true): what a fraud scorer needs —
// txn_id, account, amount, amount_usd, merchant_category, country, lat, lon, ts — and nothing
// else: the simulator's fraud label stays in bronze and never reaches the scorer.
//
// Config: {"rates": {"EUR": 1.08, ...}, "large_amount_usd": 5000,
//          "high_risk_categories": ["gambling", "crypto"], "home_country": "US",
//          "forward_for_scoring": false}

class TxnScreen {
  static NAME = 'txn-screen';
  static VERSION = '0.2.0';

  constructor(config) {
    this.rates = Object.assign({ USD: 1.0, EUR: 1.08, GBP: 1.27, JPY: 0.0067, CHF: 1.13 }, config.rates || {});
    this.large = Number(config.large_amount_usd ?? 5000);
    this.highRisk = new Set(config.high_risk_categories ?? ['gambling', 'crypto', 'money_transfer']);
    this.home = config.home_country ?? null;
    this.forward = config.forward_for_scoring === true;
    if (!(this.large > 0)) throw new Error('large_amount_usd must be a positive number');
  }

  process(record, out) {
    const t = record.valueJson();
    if (typeof t.txn_id !== 'string' || t.txn_id === '') throw new Error('txn_id is missing');
    if (typeof t.amount !== 'number' || !Number.isFinite(t.amount) || t.amount <= 0) {
      throw new Error(`amount ${JSON.stringify(t.amount)} is not a positive number`);
    }
    const currency = String(t.currency || '').toUpperCase();
    const rate = this.rates[currency];
    if (rate === undefined) throw new Error(`currency ${JSON.stringify(t.currency)} has no rate in config`);
    const amountUsd = Math.round(t.amount * rate * 100) / 100;
    const rules = [];
    if (amountUsd >= this.large) rules.push('large_amount');
    if (this.highRisk.has(t.merchant_category)) rules.push('high_risk_category');
    if (amountUsd >= 1000 && amountUsd % 100 === 0) rules.push('round_amount');
    if (this.home !== null && t.country && t.country !== this.home) rules.push('foreign_country');
    const score = rules.reduce((s, r) => s + (r === 'large_amount' ? 50 : r === 'high_risk_category' ? 30 : 15), 0);
    out.emit('screened', {
      txn_id: t.txn_id,
      account: String(t.account ?? ''),
      amount: t.amount,
      currency,
      amount_usd: amountUsd,
      merchant_category: t.merchant_category ?? null,
      country: t.country ?? null,
      rules: rules.join(','),
      risk_score: score,
      risk: score >= 50 ? 'high' : score >= 30 ? 'medium' : 'low',
      event_time: t.ts ?? Number(record.timestamp),
    });
    if (this.forward) {
      out.emit('scoring', {
        txn_id: t.txn_id,
        account: String(t.account ?? ''),
        amount: t.amount,
        amount_usd: amountUsd,
        merchant_category: String(t.merchant_category ?? ''),
        country: t.country ?? null,
        lat: Number(t.lat ?? 0),
        lon: Number(t.lon ?? 0),
        ts: t.ts ?? Number(record.timestamp),
      });
    }
  }
}

export const transform = exportPlugin(TxnScreen);
