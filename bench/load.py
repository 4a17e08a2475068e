#!/usr/bin/env python3
"""Concurrent clients mixing dashboard reads and writes against a running egov-kpi server.

    load.py URL KEY [--seconds 20] [--clients 64] [--write-share 0.2]

Every client keeps one HTTP connection and sends requests back to back until the time is up.
Writes record one observation each, at an instant no other write uses, so that afterwards every
acknowledged write can be found in the database exactly once. Exits 1 on any error or mismatch.
"""
import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

METRIC = "public-service-portal.level4-online-dossier-rate"
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
READS = {
    "platforms": "{ platforms { code name metrics { code kind latest { value qualifier } } } }",
    "savings": "{ savingsComparison { total totalQualifier entries { rank value platform { code } } } }",
    "series": '{ timeSeries(metric: "document-exchange-axis.documents-exchanged", from: "2019-01-01", to: "2021-12-31", bucket: MONTH) { points { label value change } } }',
    "page": "{ observations(last: 20) { totalCount edges { cursor node { id value qualifier source { code } } } } }",
    "targets": "{ targetProgress(year: 2021) { status progress target { code } } }",
}
WRITE = "mutation W($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }"


def instant(client, sequence):
    moment = EPOCH + timedelta(seconds=client * 1_000_000 + sequence)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Client(threading.Thread):
    def __init__(self, number, url, key, deadline, write_share):
        super().__init__(daemon=True)
        self.number, self.key, self.deadline, self.write_share = number, key, deadline, write_share
        self.host, self.port = url.hostname, url.port
        self.latencies = {"read": [], "write": []}
        self.errors = []
        self.acknowledged = []
        self.random = random.Random(number)

    def post(self, connection, body):
        connection.request("POST", "/graphql", body=json.dumps(body),
                           headers={"content-type": "application/json", "authorization": f"Bearer {self.key}"})
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload)

    def run(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sequence = 0
        while time.monotonic() < self.deadline:
            writing = self.random.random() < self.write_share
            if writing:
                sequence += 1
                body = {"query": WRITE, "variables": {"input": [{
                    "metric": METRIC, "observedAt": instant(self.number, sequence),
                    "value": str(sequence % 100), "source": "article-003", "quote": "load test"}]}}
            else:
                name = self.random.choice(list(READS))
                body = {"query": READS[name]}
            started = time.perf_counter()
            try:
                status, answer = self.post(connection, body)
            except Exception as error:  # a dropped connection is an error too
                self.errors.append(f"{type(error).__name__}: {error}")
                connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                continue
            self.latencies["write" if writing else "read"].append(time.perf_counter() - started)
            if status != 200 or "errors" in answer:
                self.errors.append(f"{status}: {json.dumps(answer)[:300]}")
            elif writing:
                self.acknowledged.append(answer["data"]["recordObservations"]["observations"][0]["id"])


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def stored_ids(url, key):
    """Every observation of the metric in the writes' window, paged through."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    # The count is asked on the first page only: counting on every page made the check
    # quadratic in the writes it checks.
    query = """query P($after: String, $counting: Boolean!) { observations(first: 100, after: $after,
      filter: {metric: "%s", observedFrom: "2000-01-01T00:00:00Z", observedBefore: "2010-01-01T00:00:00Z"}) {
      totalCount @include(if: $counting) pageInfo { hasNextPage endCursor } edges { node { id } } } }""" % METRIC
    ids, after, total = [], None, None
    while True:
        variables = {"after": after, "counting": after is None}
        connection.request("POST", "/graphql", body=json.dumps({"query": query, "variables": variables}),
                           headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
        page = json.loads(connection.getresponse().read())["data"]["observations"]
        total = page.get("totalCount", total)
        ids.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return ids, total
        after = page["pageInfo"]["endCursor"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--write-share", type=float, default=0.2)
    arguments = parser.parse_args()
    url = urllib.parse.urlparse(arguments.url)

    deadline = time.monotonic() + arguments.seconds
    clients = [Client(n, url, arguments.key, deadline, arguments.write_share) for n in range(arguments.clients)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started

    errors = [e for c in clients for e in c.errors]
    acknowledged = [i for c in clients for i in c.acknowledged]
    print(f"{arguments.clients} clients for {elapsed:.1f} s, {arguments.write_share:.0%} writes")
    print("| requests | count | per second | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("read", "write", "all"):
        values = [v for c in clients for k, vs in c.latencies.items() if kind in (k, "all") for v in vs]
        print(f"| {kind} | {len(values)} | {len(values) / elapsed:.0f} | {percentile(values, .5) * 1000:.1f} | "
              f"{percentile(values, .95) * 1000:.1f} | {percentile(values, .99) * 1000:.1f} |")
    print(f"errors: {len(errors)}")
    for error in errors[:10]:
        print(f"  {error}")

    ids, total = stored_ids(url, arguments.key)
    duplicates = len(ids) - len(set(ids))
    missing = set(acknowledged) - set(ids)
    unexpected = set(ids) - set(acknowledged)
    print(f"acknowledged writes: {len(acknowledged)}; stored: {total}; missing: {len(missing)}; "
          f"duplicated: {duplicates}; stored but never acknowledged: {len(unexpected)}")
    ok = not errors and not missing and not duplicates and not unexpected and total == len(acknowledged)
    print("result: PASS" if ok else "result: FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
