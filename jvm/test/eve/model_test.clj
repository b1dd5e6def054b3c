(ns eve.model-test
  "Generative test: random operations on an eve atom and on a plain Clojure
  atom (the model), seeded; after every operation the two must be equal
  (= both ways), and hash alike at intervals.  EVE_JVM_SEED and
  EVE_JVM_MODEL_OPS override the seed (16) and the count (20000)."
  (:require [clojure.test :refer [deftest is use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u])
  (:import [java.util Random Date UUID]))

(use-fixtures :each u/with-tmp-dir)

(def seed (Long/parseLong (or (System/getenv "EVE_JVM_SEED") "16")))
(def n-ops (Long/parseLong (or (System/getenv "EVE_JVM_MODEL_OPS") "20000")))

(defn- pick [^Random r xs] (nth xs (.nextInt r (count xs))))

(def key-pool [:a :b :c :ns/k "s" "a key longer than seven bytes" 0 1 -5 (bit-shift-left 1 62) 2.5
               'sym nil true \c #uuid "00000000-0000-0000-0000-00000000002a" [1 2] #{:x} {:m 1}])

(defn- scalar [^Random r]
  (case (.nextInt r 12)
    0 (.nextInt r 100)
    1 (.nextLong r)
    2 (.nextDouble r)
    3 (apply str (repeat (.nextInt r 12) (char (+ 97 (.nextInt r 26)))))
    4 (keyword (str "k" (.nextInt r 20)))
    5 (symbol "n" (str "s" (.nextInt r 5)))
    6 (.nextBoolean r)
    7 nil
    8 (UUID. (.nextLong r) (.nextLong r))
    9 (Date. (long (.nextInt r Integer/MAX_VALUE)))
    10 (char (+ 65 (.nextInt r 26)))
    11 (pick r key-pool)))

(defn- value [^Random r depth]
  (if (or (zero? depth) (< (.nextInt r 10) 6))
    (scalar r)
    (let [n (.nextInt r 5)]
      (case (.nextInt r 4)
        0 (into {} (repeatedly n #(vector (pick r key-pool) (value r (dec depth)))))
        1 (vec (repeatedly n #(value r (dec depth))))
        2 (set (repeatedly n #(value r (dec depth))))
        3 (apply list (repeatedly n #(value r (dec depth))))))))

(defn- op
  "A random update: [description fn] where fn is pure (applied to the eve
  view inside a swap, and to the model)."
  [^Random r]
  (let [k (pick r key-pool) x (value r 2)]
    (case (.nextInt r 10)
      0 [:assoc #(assoc % k x)]
      1 [:dissoc #(dissoc % k)]
      2 [:vec-conj #(update % k (fn [v] (if (vector? v) (conj v x) [x])))]
      3 [:vec-pop #(update % k (fn [v] (if (and (vector? v) (seq v)) (pop v) v)))]
      4 [:vec-assoc #(update % k (fn [v] (if (and (vector? v) (seq v)) (assoc v (.nextInt (Random. (hash x)) (count v)) x) v)))]
      5 [:set-conj #(update % k (fn [s] (if (set? s) (conj s x) #{x})))]
      6 [:set-disj #(update % k (fn [s] (if (and (set? s) (seq s)) (disj s (first (sort-by hash s))) s)))]
      7 [:list-cons #(update % k (fn [l] (if (seq? l) (conj l x) (list x))))]
      8 [:nested #(update-in % [:deep k] (fn [m] (assoc (if (map? m) m {}) (hash x) x)))]
      9 [:merge #(merge % (if (map? x) x {k x}))])))

(deftest random-operations-match-plain-clojure
  (let [r (Random. seed)
        a (eve/atom {:id ::model :persistent (u/path "model.eve")} {})
        model (clojure.core/atom {})
        mismatches (clojure.core/atom 0)
        first-bad (clojure.core/atom nil)
        last-op (clojure.core/atom nil)]
    (dotimes [i n-ops]
      (let [roll (.nextInt r 100)]
        (cond
          ;; a whole new value, now and then (also shrinks the map)
          (< roll 1)
          (let [v (value r 3) m (if (map? v) v {:v v})]
            (reset! a m) (reset! model m))
          ;; an update outside a swap: a Clojure value holding views, reset into the domain
          (< roll 6)
          (let [[d f] (op r) before (eve/->clj @a) nv (f @a)]
            (reset! last-op [:outside d before])
            (reset! a nv) (swap! model f))
          ;; a lookup
          (< roll 15)
          (let [k (pick r key-pool)]
            (when-not (and (= (get @a k ::nf) (get @model k ::nf))
                           (= (contains? @a k) (contains? @model k)))
              (swap! mismatches inc)))
          :else
          (let [[d f] (op r)
                _ (reset! last-op [:swap d (eve/->clj @a)])
                got (swap! a f)
                want (swap! model f)]
            (when-not (= got want) (swap! mismatches inc)))))
      (let [v @a m @model]
        (when-not (and (= v m) (= m v))
          (swap! mismatches inc)
          (when-not @first-bad
            (reset! first-bad {:op i :last @last-op :eve (eve/->clj v) :model m})))
        (when (zero? (mod i 97))
          (when-not (and (= (hash v) (hash m)) (= (count v) (count m)) (= (eve/->clj v) m))
            (swap! mismatches inc)))))
    (is (zero? @mismatches) (str "seed " seed ", first mismatch: " (pr-str @first-bad)))
    (is (= @a @model))
    (is (= (hash @a) (hash @model)))
    (is (zero? (.check (.domain a))) "the domain checks sound")))
