from app.index import Document, TfidfIndex, tokenize


def test_tokenize_drops_stopwords_and_case():
    assert tokenize("The MQTT broker is down") == ["mqtt", "broker", "down"]


def test_best_hit_for_a_runbook_question(index):
    hits = index.search("mosquitto broker unreachable")
    assert hits[0].doc_id == "rb-mqtt-down"


def test_k_limits_hits(index):
    assert len(index.search("influxdb retention batches forecast", k=2)) == 2


def test_unknown_words_find_nothing(index):
    assert index.search("zebra xylophone") == []


def test_adding_documents_rebuilds(index):
    generation = index.generation
    index.add([Document("rb-zigbee", "Zigbee devices drop off: move the coordinator away from USB 3 ports")])
    assert index.generation == generation + 1
    assert index.search("zigbee coordinator")[0].doc_id == "rb-zigbee"


def test_replacing_a_document(index):
    index.add([Document("rb-mqtt-down", "nothing about brokers here, just cheese")])
    assert all(h.doc_id != "rb-mqtt-down" for h in index.search("mosquitto listener"))


def test_empty_index():
    assert TfidfIndex().search("anything") == []
