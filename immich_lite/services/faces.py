"""Faces found and grouped into people on this machine (upstream PersonService: handleQueueDetectFaces,
handleDetectFaces, handleQueueRecognizeFaces, handleRecognizeFaces), with the in-process engine of
immich_lite/ml/faces.py instead of upstream's machine-learning container.

Detection runs on the asset's preview after its thumbnails (faceDetection queue); boxes are stored in the
preview's pixel coordinates with its size, as upstream stores them. Embeddings go to `face_search` (float32 BLOBs
of any size, migration 0012: dlib's 128-D from this process or an `immich-lite ml-serve`, upstream's 512-D from an
immich-machine-learning container), searched per owner among embeddings of the same size. Recognition follows upstream's rule: a face whose `minFaces` nearest faces
(itself included) lie within `maxDistance` is a core face and founds a person if none of them has one; other faces
join the nearest person within `maxDistance`, or wait (deferred once, then picked up by a later queue-all).
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
from typing import Any

from immich_lite import ids, jobs
from immich_lite.ctx import Ctx
from immich_lite.jobs import JobName, JobStatus, QueueName
from immich_lite.repos import person as person_repo
from immich_lite.repos import system_metadata
from immich_lite.services.system_config import config_view, get_config

log = logging.getLogger("immich_lite.faces")
DLIB_DIM = 128  # this server's own face embeddings (dlib); other sizes come from another model (upstream's)

SOURCE_ML = "machine-learning"
STATE_KEY = "facial-recognition-state"  # upstream SystemMetadataKey.FacialRecognitionState
RECOGNIZE_BATCH = 500  # faces per FacialRecognition job queued by a queue-all (upstream: one job per face)
REQUEUE_DELAY = 5.0  # seconds before a queue-all waiting on thumbnails / detection looks again


def enabled(config: dict[str, Any]) -> bool:
    """Upstream isFacialRecognitionEnabled."""
    ml = config["machineLearning"]
    return bool(ml["enabled"] and ml["facialRecognition"]["enabled"])


def engine(ctx: Ctx) -> Any:
    """The process's in-process face engine (ml/inprocess.py); its models load on the first detection it runs."""
    from immich_lite.ml import provider  # noqa: PLC0415

    return provider.router(ctx).local.faces()


def unload_if_idle(ctx: Ctx, ttl: float) -> bool:
    """Free the face models after `ttl` idle seconds (upstream's machine-learning modelTtl). True if it unloaded."""
    if not engine(ctx).idle_unload(ttl):
        return False
    log.info("face models unloaded after %.0f s idle", ttl)
    return True


def detection_request(settings: dict[str, Any]) -> dict[str, Any]:
    """Upstream machineLearningRepository.detectFaces' entries."""
    return {"facial-recognition": {
        "detection": {"modelName": settings["modelName"], "options": {"minScore": settings["minScore"]}},
        "recognition": {"modelName": settings["modelName"]}}}


def parse_faces(answer: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]]]:
    """(width, height, faces with x1..y2 and the embedding as a float32 blob) from an ML answer. Embeddings of
    dlib's size (this server's own, 128-D) are kept as they are and compared by Euclidean distance; any other size
    (upstream's buffalo_l, 512-D) is compared by cosine distance as upstream does, so it is stored unit-length.
    :raises ValueError: not a face answer."""
    import json  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    found = answer.get("facial-recognition")
    if not isinstance(found, list):
        raise ValueError("the machine-learning answer has no facial-recognition result")
    out = []
    for f in found:
        box = f["boundingBox"]
        vector = np.asarray(json.loads(f["embedding"]), dtype="<f4").ravel()
        if not vector.size or not np.all(np.isfinite(vector)):
            raise ValueError("a face embedding that is empty or not finite")
        if vector.size != DLIB_DIM:
            norm = float(np.linalg.norm(vector))
            vector = vector / np.float32(norm) if norm > 0 else vector
        out.append({"x1": int(round(box["x1"])), "y1": int(round(box["y1"])), "x2": int(round(box["x2"])),
                    "y2": int(round(box["y2"])), "score": float(f.get("score", 1.0)),
                    "embedding": vector.astype("<f4").tobytes()})
    return int(answer["imageWidth"]), int(answer["imageHeight"]), out


# -- detection -------------------------------------------------------------------------------------------------

def _iou(face: dict[str, Any], box: tuple[float, float, float, float]) -> float:
    x1, y1 = max(face["bounding_box_x1"], box[0]), max(face["bounding_box_y1"], box[1])
    x2, y2 = min(face["bounding_box_x2"], box[2]), min(face["bounding_box_y2"], box[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area1 = (face["bounding_box_x2"] - face["bounding_box_x1"]) * (face["bounding_box_y2"] - face["bounding_box_y1"])
    area2 = (box[2] - box[0]) * (box[3] - box[1])
    union = area1 + area2 - inter
    return inter / union if union > 0 else 0.0


@jobs.register(JobName.ASSET_DETECT_FACES, QueueName.FACE_DETECTION)
def detect_faces(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    config = get_config(ctx)
    if not enabled(config):
        return JobStatus.SKIPPED
    conn = ctx.db.reader()
    asset = conn.execute("SELECT id, owner_id, visibility, deleted_at FROM asset WHERE id = ?",
                         (data["id"],)).fetchone()
    previews = conn.execute("SELECT path FROM asset_file WHERE asset_id = ? AND type = 'preview' AND is_edited = 0",
                            (data["id"],)).fetchall()
    if asset is None or len(previews) != 1:
        return JobStatus.FAILED
    if asset["visibility"] == "hidden":
        return JobStatus.SKIPPED
    from immich_lite.ml import provider  # noqa: PLC0415

    answer = provider.predict(ctx, config["machineLearning"],
                              detection_request(config["machineLearning"]["facialRecognition"]),
                              image_path=str(ctx.storage.absolute(previews[0]["path"])))
    width, height, found = parse_faces(answer)
    existing = [dict(f) for f in conn.execute("SELECT * FROM asset_face WHERE asset_id = ? AND deleted_at IS NULL",
                                               (asset["id"],))]
    ml_ids = {f["id"] for f in existing if f["source_type"] == SOURCE_ML}
    scale_x = width / (existing[0]["image_width"] or 1) if existing else 1.0
    scale_y = height / (existing[0]["image_height"] or 1) if existing else 1.0
    added: list[dict[str, Any]] = []
    embeddings: list[tuple[str, bytes]] = []
    for face in found:
        box = (face["x1"] * scale_x, face["y1"] * scale_y, face["x2"] * scale_x, face["y2"] * scale_y)
        match = next((f for f in existing if _iou(f, box) > 0.5), None)
        if match is not None and match["id"] in ml_ids:
            ml_ids.discard(match["id"])
            embeddings.append((match["id"], face["embedding"]))
        elif match is None:
            face_id = ids.new_id()
            added.append({"id": face_id, "x1": face["x1"], "y1": face["y1"], "x2": face["x2"], "y2": face["y2"]})
            embeddings.append((face_id, face["embedding"]))
    with ctx.db.write() as w:
        if w.execute("SELECT 1 FROM asset WHERE id = ?", (asset["id"],)).fetchone() is None:
            return JobStatus.SKIPPED  # deleted meanwhile
        for f in added:
            person_repo.insert_face(w, id=f["id"], asset_id=asset["id"], image_width=width, image_height=height,
                                    bounding_box_x1=f["x1"], bounding_box_y1=f["y1"], bounding_box_x2=f["x2"],
                                    bounding_box_y2=f["y2"], source_type=SOURCE_ML)
        for face_id in ml_ids:  # faces no longer found (a higher minScore, an edited preview)
            w.execute("DELETE FROM asset_face WHERE id = ?", (face_id,))
        if embeddings:
            w.execute("UPDATE face_search_version SET version = version + 1 WHERE id = 1")
        for face_id, blob in embeddings:
            w.execute("DELETE FROM face_search WHERE face_id = ?", (face_id,))
            w.execute("INSERT INTO face_search (face_id, owner_id, embedding) VALUES (?, ?, ?)",
                      (face_id, asset["owner_id"], blob))
        if added:
            jobs.enqueue(w, JobName.FACIAL_RECOGNITION_QUEUE_ALL, {"force": False},
                         dedupe_key="facial-recognition-queue-all")
            for f in added:
                jobs.enqueue(w, JobName.FACIAL_RECOGNITION, {"id": f["id"]})
        w.execute("INSERT INTO asset_job_status (asset_id, faces_recognized_at) VALUES (?, ?) ON CONFLICT (asset_id) "
                  "DO UPDATE SET faces_recognized_at = excluded.faces_recognized_at", (asset["id"], ids.now_iso()))
    if added:
        log.info("detected %d new face(s) in asset %s", len(added), asset["id"])
    if ml_ids:
        log.info("removed %d face(s) below the detection threshold in asset %s", len(ml_ids), asset["id"])
    return JobStatus.SUCCESS


@jobs.register(JobName.ASSET_DETECT_FACES_QUEUE_ALL, QueueName.FACE_DETECTION)
def queue_detect_faces(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    if not enabled(get_config(ctx)):
        return JobStatus.SKIPPED
    force = bool(data.get("force"))
    if force:  # "all": forget what machine learning found, and the people left without faces
        with ctx.db.write() as w:
            w.execute("DELETE FROM asset_face WHERE source_type = ?", (SOURCE_ML,))
        from immich_lite.services.queue import person_cleanup  # noqa: PLC0415

        person_cleanup(ctx, {})
    sql = ("SELECT a.id FROM asset a WHERE a.deleted_at IS NULL AND a.visibility != 'hidden' AND EXISTS "
           "(SELECT 1 FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview')")
    if not force:
        sql += (" AND NOT EXISTS (SELECT 1 FROM asset_job_status s WHERE s.asset_id = a.id "
                "AND s.faces_recognized_at IS NOT NULL)")
    from immich_lite.services.queue import fan_out  # noqa: PLC0415

    return fan_out(ctx, sql + " ORDER BY a.id", (), JobName.ASSET_DETECT_FACES)


# -- recognition -----------------------------------------------------------------------------------------------

def _busy(conn: Any, *queues: str) -> bool:
    names = [n for n, job in jobs.JOBS.items() if job.queue in queues]
    marks = ",".join("?" * len(names))
    return conn.execute(f"SELECT 1 FROM job WHERE name IN ({marks}) AND status IN ('waiting', 'active') LIMIT 1",
                        names).fetchone() is not None


@jobs.register(JobName.FACIAL_RECOGNITION_QUEUE_ALL, QueueName.FACIAL_RECOGNITION)
def queue_recognize_faces(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    if not enabled(get_config(ctx)):
        return JobStatus.SKIPPED
    conn = ctx.db.reader()
    if _busy(conn, QueueName.THUMBNAIL_GENERATION, QueueName.FACE_DETECTION):
        # upstream waits for those queues to finish; a job here must not block its worker: look again soon
        with ctx.db.write() as w:
            jobs.enqueue(w, JobName.FACIAL_RECOGNITION_QUEUE_ALL, data, delay=REQUEUE_DELAY)
        return JobStatus.SKIPPED
    force = bool(data.get("force"))
    if data.get("nightly"):
        state = system_metadata.get(conn, STATE_KEY)
        latest = conn.execute("SELECT max(update_id) AS u FROM asset_face").fetchone()["u"]
        if _last_run(state) and latest and _last_run(state) * 1000 > ids.uuid7_ms(latest):
            return JobStatus.SKIPPED
    waiting = conn.execute("SELECT 1 FROM job WHERE name = ? AND status = 'waiting' LIMIT 1",
                           (JobName.FACIAL_RECOGNITION,)).fetchone()
    if force:
        with ctx.db.write() as w:
            w.execute("UPDATE asset_face SET person_id = NULL WHERE source_type = ? AND person_id IS NOT NULL",
                      (SOURCE_ML,))
        from immich_lite.services.queue import person_cleanup  # noqa: PLC0415

        person_cleanup(ctx, {})
    elif waiting:
        return JobStatus.SKIPPED
    last_run = ids.now_iso()
    sql = "SELECT id FROM asset_face WHERE deleted_at IS NULL"
    if not force:
        sql += " AND person_id IS NULL AND source_type = 'machine-learning'"
    faces = [r["id"] for r in ctx.db.reader().execute(sql + " ORDER BY id")]
    with ctx.db.write() as w:
        for i in range(0, len(faces), RECOGNIZE_BATCH):
            jobs.enqueue(w, JobName.FACIAL_RECOGNITION, {"ids": faces[i:i + RECOGNIZE_BATCH], "deferred": False})
    with ctx.db.write() as w:
        system_metadata.set(w, STATE_KEY, {"lastRun": last_run})
    return JobStatus.SUCCESS


def _last_run(state: Any) -> float:
    try:
        return ids.parse_iso(state["lastRun"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return 0.0


_vectors_lock = threading.Lock()
# (db, owner) -> (version, ids, matrix, |row|², {face id: row})
_vectors: dict[tuple[str, str, int], tuple[int, list[str], Any, Any, dict[str, int]]] = {}


def limit_for(dim: int, max_distance: float) -> float:
    """`maxDistance` as the Euclidean limit the recognizer compares with: mapped onto dlib's space for its 128-D
    embeddings (ml/faces.py match_threshold); for unit-length embeddings compared by cosine distance as upstream
    (buffalo_l), |a - b|^2 = 2 * cosine distance."""
    if dim == DLIB_DIM:
        from immich_lite.ml.faces import match_threshold  # noqa: PLC0415

        return match_threshold(max_distance)
    return math.sqrt(2.0 * max(max_distance, 0.0))


def _owner_vectors(conn: Any, owner_id: str, dim: int = 128) -> tuple[list[str], Any, Any, dict[str, int]]:
    """The owner's face ids and embeddings as one float32 matrix, read from face_search and kept until any face
    embedding is added or removed (face_search_version, migration 0008; a person being assigned does not). A
    clustering pass over 10,000 faces then reads them once instead of scanning vec0 per face."""
    import numpy as np  # noqa: PLC0415

    version = int(conn.execute("SELECT version FROM face_search_version WHERE id = 1").fetchone()["version"])
    key = (conn.db_filename("main"), owner_id, dim)
    with _vectors_lock:
        hit = _vectors.get(key)
    if hit is not None and hit[0] == version:
        return hit[1], hit[2], hit[3], hit[4]
    rows = conn.execute("SELECT face_id, embedding FROM face_search WHERE owner_id = ? AND length(embedding) = ?",
                        (owner_id, dim * 4)).fetchall()
    ids_ = [r["face_id"] for r in rows]
    matrix = (np.frombuffer(b"".join(r["embedding"] for r in rows), dtype="<f4").reshape(len(rows), -1)
              if rows else np.zeros((0, dim), dtype="<f4"))
    norms = np.einsum("ij,ij->i", matrix, matrix)
    index = {face_id: row for row, face_id in enumerate(ids_)}
    with _vectors_lock:
        _vectors[key] = (version, ids_, matrix, norms, index)
    return ids_, matrix, norms, index


class _Recognizer:
    """Upstream's handleRecognizeFaces for a run of faces of one owner, in queue order.

    The owner's embeddings come from `_owner_vectors` (one matrix, exact distances by one matrix-vector product,
    where upstream's HNSW index is approximate). What the rule asks of each candidate within `limit` (its person,
    whether it may be matched at all, the person's birth date) is read once per run and then kept current here
    as this run assigns faces, so a clustering pass over 10,000 faces asks SQLite only about faces it has not
    seen yet. Decisions are written by `commit`, one transaction per run, each re-checked there: a face the user
    assigned meanwhile, or a person deleted meanwhile, is left alone.
    """

    def __init__(self, conn: Any, owner_id: str, limit: float, min_faces: int, dim: int = 128) -> None:
        self.conn, self.owner_id, self.min_faces = conn, owner_id, min_faces
        self.limit2 = limit * limit
        self.ids, self.matrix, self.norms, self.index = _owner_vectors(conn, owner_id, dim)
        self.person: dict[str, str | None] = {}   # candidate face -> person id (None: unassigned)
        self.matchable: dict[str, bool] = {}      # visible, neither it nor its asset deleted
        self.birth: dict[str, str | None] = {}    # person -> birth date
        self._near: dict[str, list[str]] = {}    # face -> candidates within the limit, nearest first
        self.new_people: list[tuple[str, str]] = []  # (person id, founding face)
        self.assign: list[tuple[str, str]] = []      # (face, person)
        self.deferred: list[str] = []

    def _learn(self, face_ids: list[str]) -> None:
        missing = [f for f in face_ids if f not in self.matchable]
        missing.sort()
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            for f in chunk:
                self.matchable[f], self.person[f] = False, None
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(
                    f"""SELECT f.id, f.person_id, p.birth_date FROM asset_face f
                        JOIN asset a ON a.id = f.asset_id AND a.deleted_at IS NULL
                        LEFT JOIN person p ON p.id = f.person_id
                        WHERE f.id IN ({marks}) AND f.deleted_at IS NULL AND f.is_visible = 1""", chunk):
                self.matchable[r["id"]], self.person[r["id"]] = True, r["person_id"]
                if r["person_id"]:
                    self.birth[r["person_id"]] = r["birth_date"]

    def prepare(self, face_ids: list[str]) -> None:
        """The within-limit candidates of every face of the run at once: one matrix-matrix product per block of
        faces instead of one matrix-vector product each (distances do not depend on who is assigned), and what
        the rule asks of all those candidates read in a few queries."""
        import numpy as np  # noqa: PLC0415

        rows = [self.index[f] for f in dict.fromkeys(face_ids) if f in self.index and f not in self._near]
        for i in range(0, len(rows), 256):
            block = rows[i:i + 256]
            q = self.matrix[block]
            d2 = self.norms[None, :] - 2 * (q @ self.matrix.T) + self.norms[block][:, None]
            for row, line in zip(block, d2, strict=True):
                within = np.flatnonzero(line <= self.limit2)
                self._near[self.ids[row]] = [self.ids[j] for j in within[np.argsort(line[within], kind="stable")]]
        self._learn(list({c for f in face_ids for c in self._near.get(f, ())}))

    def _nearest(self, row: int) -> list[str]:
        """Face ids within the limit of face `row`, nearest first (ties in index order), matchable ones only."""
        face_id = self.ids[row]
        if face_id not in self._near:
            self.prepare([face_id])
        return [f for f in self._near[face_id] if self.matchable[f]]

    def _usable(self, face_id: str, min_birth_date: str | None) -> bool:
        person = self.person.get(face_id)
        born = self.birth.get(person) if person else None
        return not (min_birth_date and born and born > min_birth_date[:10])

    def recognize(self, face: dict[str, Any], deferred: bool) -> JobStatus:
        row = self.index.get(face["id"])
        if row is None:
            return JobStatus.FAILED  # no embedding
        if self.person.get(face["id"]) or face["person_id"]:
            return JobStatus.SKIPPED
        born_by = face["file_created_at"]
        near = (f for f in self._nearest(row) if self._usable(f, born_by))  # looked at only as far as needed
        matches = list(itertools.islice(near, self.min_faces))
        if self.min_faces > 1 and len(matches) <= 1:
            return JobStatus.SKIPPED  # only itself
        core = len(matches) >= self.min_faces and face["visibility"] == "timeline"
        if not core and not deferred:
            self.deferred.append(face["id"])
            return JobStatus.SKIPPED
        person_id = next((self.person[m] for m in matches if self.person.get(m)), None)
        if person_id is None:  # upstream's second search: the nearest face that has a person
            person_id = next((self.person[f] for f in near if self.person.get(f)), None)
        if core and person_id is None:
            person_id = ids.new_id()
            self.new_people.append((person_id, face["id"]))
            self.birth[person_id] = None
        if person_id:
            self.person[face["id"]] = person_id
            self.assign.append((face["id"], person_id))
        return JobStatus.SUCCESS

    def commit(self, ctx: Ctx) -> None:
        if not (self.new_people or self.assign or self.deferred):
            return
        with ctx.db.write() as w:
            now = ids.now_iso()
            founded = set()
            for person_id, face_id in self.new_people:
                if w.execute("SELECT 1 FROM asset_face WHERE id = ? AND person_id IS NULL AND deleted_at IS NULL",
                             (face_id,)).fetchone() is None:
                    continue  # the founding face was assigned or deleted meanwhile
                w.execute("INSERT INTO person (id, owner_id, face_asset_id, created_at, updated_at) "
                          "VALUES (?, ?, ?, ?, ?)", (person_id, self.owner_id, face_id, now, now))
                jobs.enqueue(w, JobName.PERSON_GENERATE_THUMBNAIL, {"id": person_id})
                founded.add(person_id)
            exists: dict[str, bool] = {p: True for p in founded}
            for face_id, person_id in self.assign:
                if person_id not in exists:
                    exists[person_id] = w.execute("SELECT 1 FROM person WHERE id = ?",
                                                  (person_id,)).fetchone() is not None
                if exists[person_id]:  # unless assigned by hand meanwhile
                    w.execute("UPDATE asset_face SET person_id = ? WHERE id = ? AND person_id IS NULL",
                              (person_id, face_id))
            if self.deferred:
                jobs.enqueue(w, JobName.FACIAL_RECOGNITION, {"ids": self.deferred, "deferred": True})
        if founded:
            log.info("created %d person(s) from %d face(s)", len(founded), len(self.assign))


@jobs.register(JobName.FACIAL_RECOGNITION, QueueName.FACIAL_RECOGNITION)
def recognize_face(ctx: Ctx, data: dict[str, Any]) -> JobStatus:
    """One face (`id`, as upstream queues it) or a run of faces in order (`ids`, as the queue-all and a deferred
    run queue them here: one job per RECOGNIZE_BATCH faces instead of one per face)."""
    config = config_view(ctx)
    if not enabled(config):
        return JobStatus.SKIPPED
    settings = config["machineLearning"]["facialRecognition"]
    face_ids = [str(f) for f in data["ids"]] if isinstance(data.get("ids"), list) else [str(data.get("id"))]
    conn = ctx.db.reader()
    rows: dict[str, dict[str, Any]] = {}
    for i in range(0, len(face_ids), 500):
        chunk = face_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(f"""SELECT f.id, f.person_id, f.source_type, a.owner_id, a.visibility,
                                         a.file_created_at
                                  FROM asset_face f JOIN asset a ON a.id = f.asset_id
                                  WHERE f.id IN ({marks}) AND f.deleted_at IS NULL""", chunk):
            rows[r["id"]] = dict(r)
    # each face is compared with the owner's faces of its own embedding size (one model's space)
    sizes = {}
    for i in range(0, len(face_ids), 500):
        chunk = face_ids[i:i + 500]
        sizes.update((r["face_id"], r["n"] // 4) for r in conn.execute(
            f"SELECT face_id, length(embedding) AS n FROM face_search WHERE face_id IN ({','.join('?' * len(chunk))})",
            chunk))
    max_distance, min_faces = float(settings["maxDistance"]), int(settings["minFaces"])
    runs: dict[tuple[str, int], _Recognizer] = {}
    statuses = []
    by_owner: dict[tuple[str, int], list[str]] = {}
    for face_id, face in rows.items():
        if face["source_type"] == SOURCE_ML and not face["person_id"]:
            by_owner.setdefault((face["owner_id"], sizes.get(face_id, DLIB_DIM)), []).append(face_id)
    for (owner_id, dim), owned in by_owner.items():
        run = runs[(owner_id, dim)] = _Recognizer(conn, owner_id, limit_for(dim, max_distance), min_faces, dim)
        run.prepare(owned)
    for face_id in face_ids:
        face = rows.get(face_id)
        if face is None:
            statuses.append(JobStatus.FAILED)
            continue
        if face["source_type"] != SOURCE_ML:
            statuses.append(JobStatus.SKIPPED)
            continue
        key = (face["owner_id"], sizes.get(face_id, DLIB_DIM))
        run = runs.get(key)
        if run is None:
            run = runs[key] = _Recognizer(conn, key[0], limit_for(key[1], max_distance), min_faces, key[1])
        statuses.append(run.recognize(face, bool(data.get("deferred"))))
    for run in runs.values():
        run.commit(ctx)
    if len(statuses) == 1:
        return statuses[0]
    return JobStatus.SUCCESS


# -- faces from the file's metadata (MWG regions: Lightroom, digiKam, Picasa, Apple Photos exports) --------------

def _orient_region(x: float, y: float, w: float, h: float, orientation: int) -> tuple[float, float, float, float]:
    """Upstream orientRegionInfo: normalised region centre and size in the displayed (oriented) image."""
    if orientation == 2:
        x = 1 - x
    elif orientation == 3:
        x, y = 1 - x, 1 - y
    elif orientation == 4:
        y = 1 - y
    elif orientation == 5:
        x, y = y, x
    elif orientation == 6:
        x, y = 1 - y, x
    elif orientation == 7:
        x, y = 1 - y, 1 - x
    elif orientation == 8:
        x, y = y, 1 - x
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return x, y, w, h


def apply_tagged_faces(conn: Any, asset_id: str, owner_id: str, region_info: Any, orientation: str | None) -> int:
    """Upstream applyTaggedFaces, inside the metadata job's write transaction: each named region becomes a face
    (sourceType exif) of the owner's person of that name (case-insensitive; created when missing, its thumbnail
    queued); the asset's earlier exif faces are replaced. Returns how many faces were written."""
    if not isinstance(region_info, dict):
        return 0
    dims, regions = region_info.get("AppliedToDimensions"), region_info.get("RegionList")
    if not isinstance(dims, dict) or not isinstance(regions, list) or not regions:
        return 0
    try:
        width, height = float(dims.get("W") or 0), float(dims.get("H") or 0)
        turn = int(orientation) if orientation and str(orientation).isdigit() else 1
    except (TypeError, ValueError):
        return 0
    if turn in (5, 6, 7, 8):
        width, height = height, width
    if width <= 0 or height <= 0:
        return 0
    names = {r["name"].lower(): r["id"] for r in conn.execute(
        "SELECT id, name FROM person WHERE owner_id = ? AND name != '' ORDER BY created_at", (owner_id,))}
    faces: list[tuple[str, str, tuple[int, int, int, int]]] = []
    created: dict[str, str] = {}  # new person id -> its first face
    for region in regions:
        if not isinstance(region, dict) or not str(region.get("Name") or "").strip():
            continue
        name = str(region["Name"])
        area = region.get("Area") if isinstance(region.get("Area"), dict) else {}
        try:
            x, y, w, h = (float(area.get(k, 0)) for k in ("X", "Y", "W", "H"))
        except (TypeError, ValueError):
            continue
        x, y, w, h = _orient_region(x, y, w, h, turn)
        box = (int((x - w / 2) * width // 1), int((y - h / 2) * height // 1),
               int((x + w / 2) * width // 1), int((y + h / 2) * height // 1))
        face_id = ids.new_id()
        person_id = names.get(name.lower())
        if person_id is None:
            person_id = names[name.lower()] = person_repo.insert(conn, owner_id, name=name)["id"]
            created[person_id] = face_id
        faces.append((face_id, person_id, box))
    conn.execute("DELETE FROM asset_face WHERE asset_id = ? AND source_type = 'exif'", (asset_id,))
    for face_id, person_id, (x1, y1, x2, y2) in faces:
        person_repo.insert_face(conn, id=face_id, asset_id=asset_id, person_id=person_id, image_width=int(width),
                                image_height=int(height), bounding_box_x1=x1, bounding_box_y1=y1, bounding_box_x2=x2,
                                bounding_box_y2=y2, source_type="exif")
    for person_id, face_id in created.items():
        person_repo.update(conn, person_id, face_asset_id=face_id)
        jobs.enqueue(conn, JobName.PERSON_GENERATE_THUMBNAIL, {"id": person_id})
    return len(faces)
