'use strict';
// A JSON and object churn workload for scripts/bench.sh: builds order documents, serializes and
// parses them, aggregates them in Maps and sorts the result, as a reporting job would.
const rounds = Number(process.argv[2] || 12);
let checksum = 0;
for (let round = 0; round < rounds; round++) {
    const orders = [];
    for (let i = 0; i < 20000; i++) {
        const items = [];
        for (let k = 0; k < 1 + (i % 5); k++) {
            items.push({ sku: 'sku-' + ((i * 7 + k) % 3001), quantity: 1 + (k % 3), price: ((i + k) % 97) + 0.99 });
        }
        orders.push({ id: round * 20000 + i, customer: 'customer-' + (i % 1009), region: ['eu', 'us', 'apac'][i % 3], items });
    }
    const parsed = JSON.parse(JSON.stringify(orders));
    const revenue = new Map();
    for (const order of parsed) {
        let total = 0;
        for (const item of order.items) total += item.quantity * item.price;
        const key = order.region + '/' + order.customer;
        revenue.set(key, (revenue.get(key) || 0) + total);
    }
    const top = [...revenue.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
    checksum += top.length + Math.round(top[0][1]);
}
console.log('node_churn:', checksum);
