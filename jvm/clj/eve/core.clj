(ns eve.core
  "Eve atoms for Clojure: atoms whose values live in an eve domain (a
  memory-mapped file, or an in-process region), shared by every thread and
  process that opens it, read in place (zero-copy).

    (require '[eve.core :as eve])
    (def counter (eve/atom {:id ::counter :persistent \"db.eve\"} 0))
    (swap! counter inc)
    @counter ;=> 1

  The object eve/atom returns implements clojure.lang.IAtom2, IDeref and
  IRef: swap!, swap-vals!, reset!, reset-vals!, compare-and-set!,
  add-watch, remove-watch, set-validator! and deref work unchanged.
  Collections deref as views (eve.MapView, eve.VecView, eve.SetView,
  eve.ListView) that are Clojure persistent collections: = and hash agree
  with the equivalent Clojure values."
  (:refer-clojure :exclude [atom])
  (:import [eve Atom Domain EveAtom View]))

(defn atom-name
  "The eve atom name for an :id: a keyword's or symbol's text (with its
  namespace, without the colon: ::counter in ns app is \"app/counter\"), or
  a string."
  [id]
  (cond (keyword? id) (subs (str id) 1)
        (symbol? id) (str id)
        (string? id) id
        :else (throw (ex-info (str "eve atom :id must be a keyword, symbol or string, not "
                                   (if (nil? id) "nil" (.getName (class id))))
                              {:id id}))))

(defn domain
  "The domain opts name: with :persistent, the process-wide handle on that
  file (created if absent, max size 1 GiB); without, the process-wide
  in-memory domain (shared by every atom made without :persistent, in this
  process only)."
  ^Domain [{:keys [persistent]}]
  (if persistent
    (Domain/shared (str persistent))
    (Domain/sharedMemory)))

(defn atom
  "An eve atom.  opts: :id (required; keyword, symbol or string: the atom's
  name in the domain), :persistent (a file path; without it the atom lives
  in this process's in-memory domain), :meta, :validator.

  With init, the atom is set to init if it holds nil (a new atom holds nil):
  atomically, so of several processes starting at once exactly one sets
  it, and an atom that already has a value keeps it."
  ([opts] (atom opts nil))
  ([{:keys [id meta validator] :as opts} init]
   (let [^Domain d (domain opts)
         ^Atom a (.atom d ^String (atom-name id))
         ea (EveAtom. a meta)]
     (when (some? init)
       (.compareAndSet a nil init))
     (when validator
       (.setValidator ea validator))
     ea)))

(defn view?
  "Whether x is a zero-copy eve value (a map, vector, set or list view)."
  [x]
  (instance? View x))

(defn ->clj
  "x copied into plain Clojure data (a no-op for anything but a view)."
  [x]
  (if (instance? View x) (.toClojure ^View x) x))

(defn close-view!
  "End the snapshot x rests on now, instead of when it is collected (every
  view of the same deref then throws on reading)."
  [x]
  (when (instance? View x) (.close ^View x)))

(defn version
  "A counter bumped by every change of the atom, by any process."
  [^EveAtom a]
  (.version a))

(defn await-change
  "Block until the atom's version differs from seen; the new version, or
  nil after timeout-ms."
  ([^EveAtom a seen] (await-change a seen -1))
  ([^EveAtom a seen timeout-ms]
   (let [v (.await (.atom a) (long seen) (long timeout-ms))]
     (when-not (= -1 v) v))))

(defn remove!
  "Remove the atom from its domain: its handles throw EVE_EREMOVED from then on."
  [^EveAtom a]
  (let [^Atom h (.atom a)]
    (.removeAtom (.domain h) (.name h))))

(defn stats
  "The domain's space and readers as a map of keywords (:live_bytes,
  :snapshots, ...)."
  [x]
  (let [^Domain d (cond (instance? EveAtom x) (.domain ^EveAtom x)
                        (instance? Domain x) x
                        :else (domain x))]
    (into {} (map (fn [[k v]] [(keyword k) v])) (.stats d))))

(defn close!
  "Close the atom's domain (or a domain): views still alive throw from then
  on; a later eve/atom on the same file opens it again."
  [x]
  (let [^Domain d (if (instance? EveAtom x) (.domain ^EveAtom x) x)]
    (.close d)))
