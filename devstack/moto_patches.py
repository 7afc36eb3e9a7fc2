"""moto 5.2.5's DynamoDB without costs real DynamoDB does not have; the same answers.

`apply()` is called by devstack.moto_server (so `make dev`, the test stack and the bench all
run with it; `--unpatched-moto` there runs moto as released). What it changes:

1. Transactions. moto's `transact_write_items` deep-copies every table a transaction names
   before it starts (its rollback plan): time and memory per TransactWriteItems grow with
   everything stored. Here tables are not copied; the items the transaction names are, and
   they are put back when it is cancelled: the same all-or-nothing outcome.
2. Queries. moto answers a Query by sorting every item of the table (every task's samples),
   keeping the queried partition and sorting that again. Here each queried view (the base
   table, or an index with one hash and one range key) keeps its items in moto's own sort
   order, updated item by item as writes land; a Query bisects to the partition and to its
   range condition and hands moto only those items (with a Limit and no start key, only the
   first Limit + 1 that pass moto's own key checks). moto then runs its usual query on them:
   key checks, limit, size cap, LastEvaluatedKey, filter, projection.
3. Sorting, where moto still sorts, uses plain values instead of DynamoType comparisons
   (the same order: DynamoType compares by those values).
4. Answers. moto rebuilds every attribute value of every returned item member by member
   through the API's shape model (half of a claim's time in moto); an attribute value
   already in its wire form (strings, numbers, booleans, null, sets, maps and lists of
   those) is placed as it is, and read from a request as it is. Binary values still take
   moto's path.
5. Items and conditions. moto builds an item re-adding the size of every attribute set so far
   for each attribute (quadratic), and parses a condition expression on every use; here the
   size is a running total (same limit, same error) and a parsed condition is reused for the
   same text, names and values.

Every write reaches a table through `Table.put_item`, `Table.delete_item` or, for an
existing item changed in place, `DynamoDBBackend.update_item` (PartiQL and batch writes
included); those mark the item's key so its views re-place it before the next query.
Anything the fast path cannot answer exactly (several key attributes, a legacy
QueryFilter, values that do not compare) goes to moto's own code.

Not thread-safe, like moto itself: devstack's WSGI layer runs one request at a time.
tests/unit/test_moto_patches.py compares every patched path with moto unpatched and fails
when a patched upstream function changes (`PATCHED` holds their source hashes).
"""
import bisect
import collections
import copy
import hashlib
import inspect
import json

from moto.core.parse import BaseJSONParser
from moto.core.serialize import BaseJSONSerializer, ResponseSerializer
from moto.dynamodb import comparisons
from moto.dynamodb import models as ddb
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb import responses as ddb_responses
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize

ORIGINAL = {
    "transact_write_items": ddb.DynamoDBBackend.transact_write_items,
    "update_item": ddb.DynamoDBBackend.update_item,
    "query": Table.query,
    "all_items": Table.all_items,
    "sorted_items": Table.sorted_items,
    "put_item": Table.put_item,
    "delete_item": Table.delete_item,
    "json_serialize_structure": BaseJSONSerializer._serialize_type_structure,
    "json_parse_structure": BaseJSONParser._parse_structure,
    "item_init": Item.__init__,
    "create_condition_expression_parser": comparisons.create_condition_expression_parser,
}
# What the patches rely on without replacing: the item layout get_item reads, moto's sort
# attributes, and the backend's writes that must go through Table.put_item/delete_item.
RELIED_ON = {
    "get_item": Table.get_item,
    "_generate_attr_to_sort_by": Table._generate_attr_to_sort_by,
    "backend_put_item": ddb.DynamoDBBackend.put_item,
    "backend_delete_item": ddb.DynamoDBBackend.delete_item,
    "serialize_structure": ResponseSerializer._serialize_type_structure,
    "serialize_structure_member": ResponseSerializer._serialize_structure_member,
    "json_serialize_string": BaseJSONSerializer._serialize_type_string,
    "json_serialize_map": BaseJSONSerializer._serialize_type_map,
    "json_serialize_list": BaseJSONSerializer._serialize_type_list,
    "limited_size_setitem": LimitedSizeDict.__setitem__,
    "get_filter_expression": comparisons.get_filter_expression,
    "condition_parser": comparisons.ConditionExpressionParser.parse,
}

# sha256 of inspect.getsource() of each function above as released in moto 5.2.5 (the
# pinned version). A changed hash means: re-read the upstream function, re-check the patch
# against it, and only then record the new hash.
PATCHED = {
    "transact_write_items": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "update_item": "218984588dd689a5de81678ce11e6a40d05c91e7b6c21b44c4ed4122fe74aa9f",
    "query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "all_items": "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    "sorted_items": "216dac1cd6b659d283e91006b809136623723efb90125b015e07052478724937",
    "put_item": "de23933013ef842639046c19bcf7e418bce0474d810f6719368be4cedce11d47",
    "delete_item": "1594f7b07616c8cb8cdf0fbf58d6f54eeac83f25d7ac7b14e832a08e10efd8f9",
    "get_item": "b08e98fe37b7e5836afe03b010d637ef50df5dea6cbecd9cf8816eef326a21cd",
    "_generate_attr_to_sort_by": "afef70e159fa8cb505cc030b323479b7ce105060c9eeecbce102247e41f302b2",
    "backend_put_item": "f5d9a5042c77b89e5f4c88b5884f7966b9dccd95b8b04090ee9e07afc5eea675",
    "backend_delete_item": "083a4bb1af18f6fd2feef40195a4c9c803da66cb2cacd14f87916c6e76930ea5",
    "json_serialize_structure": "36873909cd0aeb4defa91cc9912c6e90a62d7d92ced6150ac7de92fd10a81967",
    "serialize_structure": "f9b47068f40ce489e55e7a0bf78accec38597d27168dc3d095ac2fc18312d4a8",
    "serialize_structure_member": "437fdce43aa5ac844fb5fe22865b90d228b875b6b1787dc6bfdccad91968b3c0",
    "json_serialize_string": "44954e02145012baee50de6592411c1376aad480ea3440a3b3ab6ce932bbf78d",
    "json_serialize_map": "faa32d1fa9a8bfc9db0984b7973a5cc3297d35a2df33124748949b0908f6b6a9",
    "json_serialize_list": "f87b14fe9166e099846349860a5e3c9d9984939d82ed0f67de07ad12e790cd26",
    "json_parse_structure": "2de165721ba4b69e183647dca9c845d553a6f077c004007ad676cec8f2b581dd",
    "item_init": "d9c12b62cb921831aab9b2eb22ac24fbd600689064a0219ae3ffbe057ae4be74",
    "get_filter_expression": "0bb9e2d345c7f17fe70bed6b07659499eb35cf8f7421ddc3b82c036508ca83aa",
    "limited_size_setitem": "d979580fdbe14f79f3216564e1385c4b3485db82bc88193326c467a037331e81",
    "condition_parser": "5c9b63c5f49ed5d5d644eb0ac7422fb3c2ac4bbd310374f4161686bc4e10c453",
    "create_condition_expression_parser": "a667986752c086a5a6f0f24c794a591ea68e9b56785a706faa277d09b81161cd",
}


def source_hash(function):
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


# -- 1. transactions that copy only what they touch ------------------------------------------

class _NoTableCopy:
    """`copy` as moto's dynamodb models module sees it: tables pass through uncopied (its
    rollback then puts the same table back, a no-op); everything else is copied as before."""

    def deepcopy(self, obj, memo=None):
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _named_key(table, op_type, op):
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(attrs[table.hash_key_attr]), range_key


def _put_back(table, hash_key, range_key, item):
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item
    _mark(table, hash_key, range_key)


def transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items[:100]:  # more is refused by moto before it writes anything
        try:
            op_type, op = next(iter(entry.items()))
            table = self.tables[op["TableName"]]
            hash_key, range_key = _named_key(table, op_type, op)
            current = table.get_item(hash_key, range_key)
        except Exception:  # malformed: moto's own validation answers it
            continue
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    try:
        return ORIGINAL["transact_write_items"](self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in reversed(saved):
            _put_back(table, hash_key, range_key, item)
        raise


# -- 2. sorted views, kept up to date item by item -------------------------------------------

class _Top:
    """Sorts after every value: (partition, value, TOP) follows every key starting so."""

    def __eq__(self, other):
        return other is self

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return other is not self

    __hash__ = object.__hash__


TOP = _Top()


class View:
    """One table or index's items with that view's key attributes, in moto's query order:
    a sorted list of sort tuples (plain values), the item key of each, and the keys written
    since the list was last brought up to date."""

    def __init__(self, table, index_name):
        self.index_name = index_name
        if index_name is None:
            self.hash_attr, self.range_attr = table.hash_key_attr, table.range_key_attr
            self.sort_attrs = [table.hash_key_attr, table.range_key_attr]
        else:
            index = table.get_index(index_name)
            self.hash_attr = _only(index.schema, "HASH")
            self.range_attr = _only(index.schema, "RANGE")
            # moto's own sort attributes for this index (see Table.query)
            self.sort_attrs = table._generate_attr_to_sort_by(
                [self.hash_attr, table.hash_key_attr], [self.range_attr, table.range_key_attr])
        self.order, self.key_of, self.pending = [], {}, set()
        self.placed = {}  # item key -> its sort tuple in self.order
        for item in _every_item(table):
            self._place(item)
        self.order.sort()

    def _sort_tuple(self, item):
        values = []
        for attr in self.sort_attrs:
            value = item.attrs.get(attr)
            if value is None:
                return None
            values.append(value.cast_value)
        return tuple(values)

    def _place(self, item, insert=False):
        entry = self._sort_tuple(item)
        if entry is None:
            return
        key = (item.hash_key, item.range_key)
        self.placed[key], self.key_of[entry] = entry, key
        if insert:
            bisect.insort(self.order, entry)
        else:
            self.order.append(entry)

    # Past this many pending keys (and an eighth of the view), one sort beats that many
    # insertions into the list (a 100,000-sample registration before the next query).
    REBUILD_AT = 256

    def catch_up(self, table):
        if len(self.pending) > self.REBUILD_AT and 8 * len(self.pending) > len(self.order):
            self.__init__(table, self.index_name)
            return
        for key in self.pending:
            old = self.placed.pop(key, None)
            if old is not None:
                del self.order[bisect.bisect_left(self.order, old)]
                del self.key_of[old]
            item = table.get_item(*key) if key[1] is not None or not table.range_key_attr else None
            if item is not None:
                self._place(item, insert=True)
        self.pending.clear()

    def item(self, table, entry):
        return table.get_item(*self.key_of[entry])

    def partition(self, partition):
        """[start, stop) of the partition's entries."""
        return (bisect.bisect_left(self.order, (partition,)),
                bisect.bisect_left(self.order, (partition, TOP)))

    def bounds(self, lo, hi, partition, comparison, values):
        """[lo, hi) of the partition's entries that may meet the range condition."""
        order, comparison = self.order, _OPERATORS.get(comparison, (comparison or "").upper())
        if comparison in ("EQ", "GE", "BETWEEN", "BEGINS_WITH"):
            lo = bisect.bisect_left(order, (partition, values[0]), lo, hi)
        elif comparison == "GT":
            lo = bisect.bisect_right(order, (partition, values[0], TOP), lo, hi)
        if comparison in ("EQ", "LE"):
            hi = bisect.bisect_right(order, (partition, values[0], TOP), lo, hi)
        elif comparison == "BETWEEN":
            hi = bisect.bisect_right(order, (partition, values[1], TOP), lo, hi)
        elif comparison == "LT":
            hi = bisect.bisect_left(order, (partition, values[0]), lo, hi)
        return lo, hi


_OPERATORS = {"=": "EQ", "<=": "LE", "<": "LT", ">=": "GE", ">": "GT"}


def _only(schema, key_type):
    names = [k["AttributeName"] for k in schema if k["KeyType"] == key_type]
    return names[0] if len(names) == 1 else None


def _every_item(table):
    for found in table.items.values():
        yield from (found.values() if table.range_key_attr else [found])


def _views(table):
    views = table.__dict__.get("_devstack_views")
    if views is None:
        views = table.__dict__["_devstack_views"] = {}
    return views


# Names of the tables written since the last take_written_tables(): the snapshotter saves
# only those (devstack/snapshot.py).
WRITTEN_TABLES = set()


def take_written_tables():
    """The tables written since the last call (and forget them)."""
    taken = set(WRITTEN_TABLES)
    WRITTEN_TABLES.difference_update(taken)
    return taken


def _mark(table, hash_key, range_key):
    WRITTEN_TABLES.add(table.name)
    for view in table.__dict__.get("_devstack_views", {}).values():
        view.pending.add((hash_key, range_key))


def _view(table, index_name):
    """The up-to-date view a query may use, or None when moto must answer it itself."""
    views = _views(table)
    view = views.get(index_name)
    if view is None:
        if index_name is None:
            if table.range_key_attr is None:
                return None
        else:
            index = {i.name: i for i in table.all_indexes()}.get(index_name)
            if index is None or _only(index.schema, "HASH") is None or \
                    _only(index.schema, "RANGE") is None:
                return None
        view = views[index_name] = View(table, index_name)
    view.catch_up(table)
    return view


def _candidates(table, args):
    """The items moto's query needs to see, in its order; None to let moto look at all."""
    if args.get("filter_kwargs") or len(args.get("range_key_conditions") or []) > 1:
        return None
    index_name = args.get("index_name")
    view = _view(table, index_name)
    if view is None:
        return None
    if index_name is None:
        expected = args["hash_key"]
    else:
        conditions = dict(args.get("hash_key_conditions") or [])
        if set(conditions) != {view.hash_attr}:
            return None
        expected = conditions[view.hash_attr]
    comparison, range_objs = args.get("range_comparison"), args.get("range_objs") or []
    start, stop = view.partition(expected.cast_value)
    lo, hi = view.bounds(start, stop, expected.cast_value, comparison,
                         [o.cast_value for o in range_objs])
    forward = args.get("scan_index_forward", True) is not False
    limit = args.get("limit")
    if not limit or args.get("exclusive_start_key"):
        # moto skips to the start key itself; the one entry past the range lets it see
        # that the page is full (LastEvaluatedKey) as it would on the whole partition.
        lo, hi = (lo, min(hi + 1, stop)) if forward else (max(lo - 1, start), hi)
        return [view.item(table, e) for e in view.order[lo:hi]]

    def passes(item):  # moto's own key checks (Table.query), for this view's shape
        if index_name is None:
            ok, value = item.hash_key == expected, item.range_key
        else:
            value = item.attrs.get(view.hash_attr)
            ok = not (not value or value != expected) and bool(item.attrs.get(view.range_attr))
            value = item.attrs.get(view.range_attr)
        return ok and (not comparison or (value is not None and value.compare(comparison, range_objs)))

    # moto stops at the first item of the partition it meets once it holds `limit` results,
    # matching or not, and answers with a LastEvaluatedKey: hand it that item too.
    picked, matched = [], 0
    steps = range(lo, stop) if forward else range(hi - 1, start - 1, -1)
    for i in steps:
        item = view.item(table, view.order[i])
        if matched == limit:
            picked.append(item)
            break
        if not (lo <= i < hi):
            break  # past the range: nothing further can match
        if passes(item):
            picked.append(item)
            matched += 1
    return picked if forward else picked[::-1]


_QUERY_SIGNATURE = inspect.signature(ORIGINAL["query"])
FAST_PATH_FAILURES = collections.Counter()


def query(self, *args, **kwargs):
    try:
        candidates = _candidates(self, _QUERY_SIGNATURE.bind(self, *args, **kwargs).arguments)
    except Exception as error:  # values that do not compare, say: moto answers (or raises)
        FAST_PATH_FAILURES[type(error).__name__] += 1  # the tests require none
        self.__dict__.pop("_devstack_views", None)  # rebuilt from the items on next use
        candidates = None
    if candidates is None:
        return ORIGINAL["query"](self, *args, **kwargs)
    self.__dict__["_devstack_candidates"] = candidates
    try:
        return ORIGINAL["query"](self, *args, **kwargs)
    finally:
        del self.__dict__["_devstack_candidates"]


def all_items(self):
    candidates = self.__dict__.get("_devstack_candidates")
    return candidates if candidates is not None else ORIGINAL["all_items"](self)


def sorted_items(self, hash_key_attrs, range_key_attrs, items):
    if "_devstack_candidates" in self.__dict__:
        return items  # a subsequence of the candidates: already in this order
    attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda x: tuple(x.attrs[k].cast_value for k in attrs))
    return items


def put_item(self, item_attrs, *args, **kwargs):
    item = ORIGINAL["put_item"](self, item_attrs, *args, **kwargs)
    _mark(self, item.hash_key, item.range_key)
    return item


def delete_item(self, hash_key, range_key):
    try:
        return ORIGINAL["delete_item"](self, hash_key, range_key)
    finally:
        _mark(self, hash_key, range_key)


def update_item(self, table_name, key, *args, **kwargs):
    try:
        return ORIGINAL["update_item"](self, table_name, key, *args, **kwargs)
    finally:  # moto changes an existing item in place, even when it raises half-way
        table = self.tables.get(table_name)
        if table is not None and table.hash_key_attr in key:
            _mark(table, DynamoType(key[table.hash_key_attr]),
                  DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None)


# -- 4. DynamoDB attribute values answered as stored --------------------------------------

def _wire_form(value):
    """True when moto's serializer would rebuild `value` member by member into an equal
    dict: an AttributeValue of strings, numbers (as strings), booleans, null, sets of
    those, and maps and lists of such. Binary values take moto's own path (base64)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (kind, inner), = value.items()
    if kind in ("S", "N"):
        return isinstance(inner, str)
    if kind in ("SS", "NS"):
        return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
    if kind in ("BOOL", "NULL"):
        return isinstance(inner, bool)
    if kind == "M":
        return isinstance(inner, dict) and all(_wire_form(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(_wire_form(v) for v in inner)
    return False


def serialize_structure(self, serialized, value, shape, key):
    """moto walks every member of every attribute value through its shape model (most of
    a Query's or GetItem's time): the stored wire form is what that walk produces."""
    if key and shape.name == "AttributeValue" and _wire_form(value):
        serialized[self.get_serialized_name(shape, key)] = value
        return
    ORIGINAL["json_serialize_structure"](self, serialized, value, shape, key)


def parse_structure(self, shape, value):
    """The same for requests: an attribute value in wire form is what moto's parse returns."""
    if shape.name == "AttributeValue" and _wire_form(value):
        return value
    return ORIGINAL["json_parse_structure"](self, shape, value)


# -- 5. items built in one pass, conditions parsed once ----------------------------------------

ITEM_SIZE_LIMIT = 405000  # moto's (LimitedSizeDict.__setitem__)


def item_init(self, hash_key, range_key, attrs):
    """moto re-adds the size of every attribute already set for each one it sets (quadratic
    in attributes); the running total here raises at the same attribute."""
    self.hash_key, self.range_key = hash_key, range_key
    self.attrs, total = LimitedSizeDict(), 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        total += bytesize(key) + typed.size()
        if total > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, typed)


class _ParsedOnce:
    """A condition parser whose parse() runs once; moto reads `expr_attr_names_found` and
    the like from the parser afterwards."""

    def __init__(self, parser):
        self._parser, self._parsed = parser, None

    def parse(self):
        if self._parsed is None:
            self._parsed = self._parser.parse()
        return self._parsed

    def __getattr__(self, name):
        return getattr(self._parser, name)


_parsers = {}


def create_condition_expression_parser(expr, names, values):
    """moto parses a condition on every use (three times per transaction item); a parsed
    condition holds no state of its own, so the same text, names and values share one."""
    try:
        key = json.dumps([expr, names, values], sort_keys=True)
    except TypeError:  # binary values: a parser of its own
        return ORIGINAL["create_condition_expression_parser"](expr, names, values)
    parser = _parsers.get(key)
    if parser is None:
        if len(_parsers) > 4096:
            _parsers.clear()
        parser = _parsers[key] = _ParsedOnce(
            ORIGINAL["create_condition_expression_parser"](expr, names, values))
    return parser


def apply():
    """Patch moto in this process (idempotent)."""
    if ddb.DynamoDBBackend.transact_write_items is transact_write_items:
        return
    ddb.copy = _NoTableCopy()
    ddb.DynamoDBBackend.transact_write_items = transact_write_items
    ddb.DynamoDBBackend.update_item = update_item
    Table.query, Table.all_items, Table.sorted_items = query, all_items, sorted_items
    Table.put_item, Table.delete_item = put_item, delete_item
    BaseJSONSerializer._serialize_type_structure = serialize_structure
    BaseJSONParser._parse_structure = parse_structure
    Item.__init__ = item_init
    for module in (comparisons, ddb, ddb_responses):
        module.create_condition_expression_parser = create_condition_expression_parser


def revert():
    """moto as released (for the comparison tests)."""
    ddb.copy = copy
    ddb.DynamoDBBackend.transact_write_items = ORIGINAL["transact_write_items"]
    ddb.DynamoDBBackend.update_item = ORIGINAL["update_item"]
    Table.query, Table.all_items = ORIGINAL["query"], ORIGINAL["all_items"]
    Table.sorted_items = ORIGINAL["sorted_items"]
    Table.put_item, Table.delete_item = ORIGINAL["put_item"], ORIGINAL["delete_item"]
    BaseJSONSerializer._serialize_type_structure = ORIGINAL["json_serialize_structure"]
    BaseJSONParser._parse_structure = ORIGINAL["json_parse_structure"]
    Item.__init__ = ORIGINAL["item_init"]
    for module in (comparisons, ddb, ddb_responses):
        module.create_condition_expression_parser = ORIGINAL["create_condition_expression_parser"]
    _parsers.clear()
