(ns eve.core
  "Eve's atoms for ClojureScript on nbb: an atom that lives in an eve
  domain (a memory-mapped file, or an in-memory region shared with worker
  threads), so that every process opening the same file sees and changes
  the same value.

    (require '[eve.core :as eve])
    (def counter (eve/atom {:id ::counter :persistent \"db.eve\"} 0))
    (swap! counter inc)

  Values are converted to and from ClojureScript data through EDN:
  keywords, symbols, strings, numbers, nil, booleans, maps, vectors, sets,
  lists, #inst (js/Date) and #uuid (cljs.core/UUID).  deref, swap!, reset!,
  swap-vals!, reset-vals!, compare-and-set!, add-watch and remove-watch of
  cljs.core work on these atoms (swap! and friends atomically across
  processes: the function may run more than once, on conflict)."
  (:require ["eve-atoms" :as js-eve]
            [cljs.reader :as reader]))

(def ^:private readers
  {'eve/bytes (fn [b64] (js/Uint8Array. (js/Buffer.from b64 "base64")))})

(defn- from-eve
  "A value read from eve (a view or a JS scalar) as ClojureScript data."
  [v]
  (if (nil? v)
    nil
    (reader/read-string {:readers readers} (js-eve/toEDN v))))

(defn- to-eve
  "ClojureScript data as a value eve stores (its EDN text, read in place)."
  [x]
  (js-eve/edn (pr-str x)))

(defonce ^:private domains (atom {}))

(defn domain
  "The domain (eve-atoms Domain) at path, opened once per process; nil:
  this process's in-memory domain."
  ([] (domain nil))
  ([path]
   (let [k (or path ::memory)]
     (or (get @domains k)
         (let [d (if path (js-eve/open path) (js-eve/open))]
           (swap! domains assoc k d)
           d)))))

(defn- atom-name [id]
  (cond
    (keyword? id) (if (namespace id) (str (namespace id) "/" (name id)) (name id))
    (string? id) id
    (symbol? id) (str id)
    :else (throw (js/TypeError. (str "eve atom :id must be a keyword, symbol or string, got " (pr-str id))))))

(defn- watch-loop
  "Run the atom's watches after each change (asynchronously; changes that
  come faster than the event loop are coalesced), until stopped."
  [this ^js a watches last ctl]
  (let [it (.watch a #js {:signal (.-signal ctl)})]
    (letfn [(step []
              (-> (.next it)
                  (.then (fn [r]
                           (when-not (.-done r)
                             (let [new (from-eve (.-value r))
                                   old @last]
                               (reset! last new)
                               (doseq [[k f] @watches] (f k this old new)))
                             (step))))))]
      (step))))

(defprotocol ^:private IEveAtom
  (-state [this] "the atom's state: #js {:a eve-atoms Atom, :id, :watches, :last, :ctl}"))

(deftype EveAtom [st]
  IEveAtom
  (-state [_] st)
  IDeref
  (-deref [_] (from-eve (.deref ^js (.-a st))))
  IReset
  (-reset! [_ v] (.reset ^js (.-a st) (to-eve v)) v)
  ISwap
  (-swap! [_ f] (from-eve (.swap ^js (.-a st) (fn [old] (to-eve (f (from-eve old)))))))
  (-swap! [_ f x] (from-eve (.swap ^js (.-a st) (fn [old] (to-eve (f (from-eve old) x))))))
  (-swap! [_ f x y] (from-eve (.swap ^js (.-a st) (fn [old] (to-eve (f (from-eve old) x y))))))
  IPrintWithWriter
  (-pr-writer [this w _] (-write w (str "#eve/atom " (pr-str {:id (.-id (-state this)) :val (-deref this)})))))

(defn eve-atom? [x] (instance? EveAtom x))

(defn js-atom
  "The eve-atoms Atom behind an eve atom (for its JS API: watch, version...)."
  [x]
  (.-a (-state x)))

(defn- eve-swap [x f args]
  (from-eve (.swap ^js (js-atom x) (fn [old] (to-eve (apply f (from-eve old) args))))))

(defn- eve-swap-vals [x f args]
  (let [pair (.swapVals ^js (js-atom x) (fn [old] (to-eve (apply f (from-eve old) args))))]
    [(from-eve (aget pair 0)) (from-eve (aget pair 1))]))

(defn- eve-compare-and-set [x oldval newval]
  ;; value equality, as cljs.core's compare-and-set! on an atom: retried
  ;; while the atom changes under the comparison
  (let [^js a (js-atom x)]
    (loop []
      (let [cur (.deref a)]
        (if (= (from-eve cur) oldval)
          (if (.compareAndSet a cur (to-eve newval)) true (recur))
          false)))))

(defn- eve-add-watch [x k f]
  (let [st (-state x)
        watches (.-watches st)]
    (when (empty? @watches)
      (reset! (.-last st) (-deref x))
      (let [ctl (js/AbortController.)]
        (set! (.-ctl st) ctl)
        (watch-loop x (.-a st) watches (.-last st) ctl)))
    (swap! watches assoc k f)
    x))

(defn- eve-remove-watch [x k]
  (let [st (-state x)
        watches (.-watches st)]
    (swap! watches dissoc k)
    (when (and (empty? @watches) (.-ctl st))
      (.abort (.-ctl st))
      (set! (.-ctl st) nil))
    x))

;; cljs.core's swap-vals!, reset-vals!, compare-and-set!, add-watch and
;; remove-watch reach into cljs.core/Atom's fields rather than through
;; protocols nbb lets a deftype implement, and nbb's swap! stops at three
;; extra arguments: route them here for eve atoms (others go on to the
;; originals).
(defonce ^:private core-installed
  (do
    (alter-var-root #'cljs.core/swap!
                    (fn [orig] (fn [a f & args] (if (eve-atom? a) (eve-swap a f args) (apply orig a f args)))))
    (alter-var-root #'cljs.core/swap-vals!
                    (fn [orig] (fn [a f & args] (if (eve-atom? a) (eve-swap-vals a f args) (apply orig a f args)))))
    (alter-var-root #'cljs.core/reset-vals!
                    (fn [orig] (fn [a v] (if (eve-atom? a) (eve-swap-vals a (constantly v) nil) (orig a v)))))
    (alter-var-root #'cljs.core/compare-and-set!
                    (fn [orig] (fn [a o n] (if (eve-atom? a) (eve-compare-and-set a o n) (orig a o n)))))
    (alter-var-root #'cljs.core/add-watch
                    (fn [orig] (fn [a k f] (if (eve-atom? a) (eve-add-watch a k f) (orig a k f)))))
    (alter-var-root #'cljs.core/remove-watch
                    (fn [orig] (fn [a k] (if (eve-atom? a) (eve-remove-watch a k) (orig a k)))))
    true))

(defn atom
  "An atom named :id in the domain :persistent (a file path; without it,
  this process's in-memory domain, which worker threads can join).  The
  atom keeps the value it has; a new atom (or one holding nil) is set to
  init."
  ([opts] (atom opts nil))
  ([{:keys [id persistent] :as opts} init]
   (when-not (map? opts) (throw (js/TypeError. "eve/atom needs an options map {:id ... :persistent path}")))
   (when (nil? id) (throw (js/TypeError. "eve/atom needs an :id")))
   (let [d (domain persistent)
         nm (atom-name id)
         ^js a (.atom d nm)]
     (when (some? init) (.compareAndSet a nil (to-eve init)))
     (EveAtom. #js {:a a :id id :watches (cljs.core/atom {}) :last (cljs.core/atom nil) :ctl nil}))))
