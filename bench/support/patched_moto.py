"""devstack's moto server without three emulator costs that DynamoDB does not have.

1. moto 5.2.5 `transact_write_items` deep-copies every table a transaction touches before it
   starts (its rollback plan): each TransactWriteItems costs O(items in the table). Measured
   with devstack's moto as is: registering 1,000 samples took 21 s (0.5 s here), and while
   registering the next 10,000 one 1,000-sample batch did not answer within 120 s, so
   100,000 samples are out of reach. Here only the items the transaction names are
   snapshotted, and restored when it is cancelled: the same all-or-nothing outcome.
2. moto answers a Query by looking at every item of the table (every task's samples) before
   it applies the key condition; here it looks at the queried partition only, and at the
   index's own range-key condition before sorting (moto applies both again): same result.
3. moto sorts by comparing DynamoType objects in Python; here by their plain values.

moto still sorts the queried partition on each dispatch-index Query, so local latency keeps
growing with task size where DynamoDB's does not; request and item counts are unaffected.
The unit suite passes on this server's backend. Nothing else changes: the wire layer, the
lock and the counters are devstack's own (`devstack.moto_server.main`).

    python bench/support/patched_moto.py --port N [--region R]     (same arguments as devstack.moto_server)
"""
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from moto.dynamodb import models as ddb  # noqa: E402
from moto.dynamodb.comparisons import get_comparison_func  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402


class _NoTableCopy:
    """`copy` for moto's dynamodb models module: tables pass through uncopied."""

    def deepcopy(self, obj, memo=None):
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _key_of(table, op_type, op):
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _restore(table, hash_key, range_key, item):
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


_original = ddb.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items[:100]:
        try:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            hash_key, range_key = _key_of(table, op_type, op)
            current = table.get_item(hash_key, range_key)
        except Exception:  # malformed: moto's own validation answers it
            continue
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    try:
        return _original(self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in reversed(saved):
            _restore(table, hash_key, range_key, item)
        raise


_all_items = Table.all_items
_query = Table.query


def all_items(self):
    part = getattr(self, "_bench_partition", None)
    if part is None:
        return _all_items(self)
    found = self.items.get(part, {})
    items = list(found.values()) if self.range_key_attr else [found]
    keep = getattr(self, "_bench_range", None)
    return [i for i in items if keep(i)] if keep else items


def _range_filter(index, range_comparison, range_objs):
    """The index's own range-key condition, applied before moto sorts (it applies the same
    condition again after sorting; items it would drop never reach its sort)."""
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(ranges) != 1 or not range_comparison:
        return None
    attr, func = ranges[0], get_comparison_func(range_comparison)
    values = [obj.cast_value for obj in range_objs]

    def keep(item):
        value = item.attrs.get(attr)
        return value is not None and func(value.cast_value, *values)
    return keep


def sorted_items(self, hash_key_attrs, range_key_attrs, items):
    """moto's sort, keyed by plain values instead of DynamoType objects (same order for the
    scalar S/N/B key attributes DynamoDB allows)."""
    attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda x: tuple(x.attrs[k].cast_value for k in attrs))
    return items


def query(self, hash_key, *args, **kwargs):
    """Look only at the queried partition when the key condition names the table's own hash
    key (base table, or an index that shares it, like `dispatch`); moto's check of every
    item against the key conditions still runs, on that partition."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    attr = self.hash_key_attr
    if index_name:
        index = {i.name: i for i in self.all_indexes()}.get(index_name)
        hashes = [k["AttributeName"] for k in (index.schema if index else []) if k["KeyType"] == "HASH"]
        attr = hashes[0] if hashes == [self.hash_key_attr] else None
    value, keep = hash_key, None
    if index_name and attr is not None:
        keep = _range_filter(index, args[0] if args else kwargs.get("range_comparison"),
                             args[1] if len(args) > 1 else kwargs.get("range_objs") or [])
        if kwargs.get("range_key_conditions") and len(kwargs["range_key_conditions"]) > 1:
            keep = None
    for name, typed in kwargs.get("hash_key_conditions") or []:
        if name == attr:
            value = typed
    if attr is None or value is None:
        return _query(self, hash_key, *args, **kwargs)
    self._bench_partition, self._bench_range = value, keep
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        self._bench_partition = self._bench_range = None


ddb.copy = _NoTableCopy()
ddb.DynamoDBBackend.transact_write_items = transact_write_items
Table.all_items = all_items
Table.query = query
Table.sorted_items = sorted_items

if __name__ == "__main__":
    from devstack.moto_server import main
    main()
