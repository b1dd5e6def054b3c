(ns eve.values-test
  "Conversions both ways, views (=, hash, lookups, updates in and out of a
  swap), and the atom operations."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u])
  (:import [eve Domain EveException MapView VecView SetView ListView View]
           [java.time Instant]
           [java.util Date UUID]))

(use-fixtures :each u/with-tmp-dir)

(defn- fresh [name init]
  (eve/atom {:id name :persistent (u/path "v.eve")} init))

(def sample
  {:int 1 :neg -7 :big 123456789012345678 :min Long/MIN_VALUE :max Long/MAX_VALUE
   :f 1.5 :nan-free -0.25 :s "short" :long-s (apply str (repeat 50 "é")) :empty-s ""
   :kw :plain :nskw :some.ns/name :sym 'a-symbol :nssym 'ns/sym
   :t true :fl false :nil nil :char \x
   :uuid #uuid "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
   :inst #inst "2021-03-04T05:06:07.089-00:00"
   :vec [1 [2 [3 []]] {:in "map"}] :set #{1 "two" :three [4]} :list '(1 (2 3) ())
   :map {"string key" 1, 2 "int key", [1 2] "vector key", #{:s} "set key", nil "nil key"}
   :empty-map {} :empty-vec [] :empty-set #{} :empty-list ()})

(deftest scalars-round-trip
  (let [a (fresh ::scalars nil)]
    (doseq [x (concat (vals sample) [0 -1 (dec (bit-shift-left 1 60)) (bit-shift-left 1 60) 1e300 "\u0000nul"
                                     (apply str (repeat 9 "x")) :k/with-ns (symbol "s" "n") \u00e9])]
      (reset! a x)
      (is (= x @a) (pr-str x))
      (is (= (hash x) (hash @a)) (pr-str x))
      (when-not (coll? x)
        (is (= (class x) (class @a)) (pr-str x))))))

(deftest other-java-types-convert
  (let [a (fresh ::java nil)]
    (reset! a (int 5)) (is (= 5 @a)) (is (instance? Long @a))
    (reset! a (short 6)) (is (= 6 @a))
    (reset! a (float 1.5)) (is (= 1.5 @a))
    (reset! a (bigint 12)) (is (= 12 @a)) (is (instance? Long @a))
    (reset! a (biginteger 13)) (is (= 13 @a))
    (reset! a (Instant/ofEpochMilli 1234567)) (is (= (Date. 1234567) @a))
    (reset! a (java.util.ArrayList. [1 2])) (is (= [1 2] @a)) (is (instance? VecView @a))
    (reset! a (java.util.HashMap. {"a" 1})) (is (= {"a" 1} @a))
    (reset! a (java.util.HashSet. [1 2])) (is (= #{1 2} @a))
    (reset! a (map inc [1 2 3])) (is (= '(2 3 4) @a)) (is (instance? ListView @a))
    (reset! a (byte-array [1 2 3])) (is (= [1 2 3] (vec @a)))))

(deftest unsupported-types-are-ex-info-naming-the-type
  (let [a (fresh ::bad 1)]
    (doseq [x [(Object.) (java.util.concurrent.atomic.AtomicLong. 1) {:nested [(StringBuilder. "sb")]}
               (bigint (* 1N Long/MAX_VALUE 4)) 1.5M (fn [] 1)]]
      (let [e (try (reset! a x) nil (catch clojure.lang.ExceptionInfo e e))]
        (is (some? e) (pr-str x))
        (is (string? (:type (ex-data e))))
        (is (.contains (ex-message e) (str (:type (ex-data e)))))))
    (is (= 1 @a) "nothing was stored")
    (is (thrown? clojure.lang.ExceptionInfo (swap! a (constantly (Object.)))))
    (is (= 1 @a))))

(deftest views-are-clojure-collections
  (let [a (fresh ::views sample)
        v @a]
    (is (instance? MapView v))
    (is (instance? clojure.lang.IPersistentMap v))
    (is (= v sample)) (is (= sample v))
    (is (.equals v sample)) (is (.equals sample v))
    (is (= (hash v) (hash sample)))
    (is (= (.hashCode v) (.hashCode sample)))
    (is (= (count sample) (count v)))
    (is (instance? VecView (:vec v)))
    (is (instance? SetView (:set v)))
    (is (instance? ListView (:list v)))
    (is (= [2 [3 []]] (get-in v [:vec 1])))
    (is (= "map" (get-in v [:vec 2 :in])))
    (is (= "vector key" (get-in v [:map [1 2]])))
    (is (= "set key" (get-in v [:map #{:s}])))
    (is (= "nil key" (get-in v [:map nil])))
    (is (= "int key" ((:map v) 2)))
    (is (nil? (get v :absent)))
    (is (= ::nf (get v :absent ::nf)))
    (is (nil? (get v (Object.))) "a key eve cannot hold is not found")
    (is (contains? v :nil))
    (is (not (contains? v :nope)))
    (is (= :three ((:set v) :three)))
    (is (contains? (:set v) [4]))
    (is (nil? ((:set v) 99)))
    (is (= 1 (first (:list v))))
    (is (= '((2 3) ()) (rest (:list v))))
    (is (= 3 (count (:list v))))
    (is (= (set (keys sample)) (set (keys v))))
    (is (= (frequencies (vals sample)) (frequencies (vals v))))
    (is (= sample (into {} v)))
    (is (= (:vec sample) (vec (:vec v))))
    (is (= (:vec sample) (seq (:vec v))))
    (is (= 1 ((:vec v) 0)))
    (is (= sample (read-string (pr-str v))) "prints as EDN that reads back")
    (is (= sample (eve/->clj v)))
    (is (not (eve/view? (eve/->clj v))))
    (is (= sample (clojure.edn/read-string {:readers {'eve/bytes identity}} (.toEdn ^View v))))))

(deftest views-implement-the-clojure-interfaces
  (let [v @(fresh ::ifaces {:m {:a 1} :v [1] :s #{1} :l '(1 2)})
        has? (fn [x & is] (every? #(instance? % x) is))]
    (is (has? v clojure.lang.IPersistentMap clojure.lang.ILookup clojure.lang.Associative
              clojure.lang.Counted clojure.lang.IFn clojure.lang.IHashEq clojure.lang.Seqable
              java.util.Map clojure.lang.MapEquivalence))
    (is (has? (:v v) clojure.lang.IPersistentVector clojure.lang.ILookup clojure.lang.Indexed
              clojure.lang.Counted clojure.lang.IFn clojure.lang.IHashEq clojure.lang.Seqable
              clojure.lang.Reversible clojure.lang.Sequential java.util.List java.util.RandomAccess))
    (is (has? (:s v) clojure.lang.IPersistentSet clojure.lang.Counted clojure.lang.IFn
              clojure.lang.IHashEq clojure.lang.Seqable java.util.Set))
    (is (has? (:l v) clojure.lang.ISeq clojure.lang.IPersistentList clojure.lang.IPersistentStack
              clojure.lang.Counted clojure.lang.IHashEq clojure.lang.Seqable clojure.lang.Sequential
              java.util.List))
    (is (= [1] (rseq (:v v))))
    (is (= 1 (peek (:v v))))
    (is (= 1 (peek (:l v))))
    (is (= '(2) (pop (:l v))))
    (is (counted? v))
    (is (= [[:a 1]] (seq (:m v))))
    (is (= {:a 2} (reduce-kv (fn [m k x] (assoc m k (inc x))) {} (:m v))))
    (is (= #{1} (into #{} (:s v))))))

(deftest updates-outside-a-swap-are-clojure-values
  (let [a (fresh ::cow {:m {:x 1} :v [1 2] :s #{1} :l '(1 2)})
        v @a]
    (is (instance? clojure.lang.PersistentArrayMap (assoc v :y 2)))
    (is (= {:m {:x 1} :v [1 2] :s #{1} :l '(1 2) :y 2} (assoc v :y 2)))
    (is (= {:v [1 2] :s #{1} :l '(1 2)} (dissoc v :m)))
    (is (= [1 2 3] (conj (:v v) 3)))
    (is (instance? clojure.lang.PersistentVector (conj (:v v) 3)))
    (is (= [1 9] (assoc (:v v) 1 9)))
    (is (= [1] (pop (:v v))))
    (is (= #{1 2} (conj (:s v) 2)))
    (is (= #{} (disj (:s v) 1)))
    (is (= '(0 1 2) (conj (:l v) 0)))
    (is (= {} (empty v)))
    (is (nil? (meta v)))
    (is (= {:tag 1} (meta (with-meta v {:tag 1}))))
    (is (= v (with-meta v {:tag 1})))
    (is (= {:tag 2} (meta (vary-meta (:v v) assoc :tag 2))))
    (is (= #{1} (with-meta (:s v) {:x 1})))
    (is (= {:m {:x 1} :v [1 2] :s #{1} :l '(1 2)} @a) "the atom is unchanged")
    (testing "a Clojure value holding views goes back into the domain"
      (reset! a (assoc v :again (:v v)))
      (is (= [1 2] (:again @a))))))

(deftest updates-inside-a-swap-are-eve-values
  (let [a (fresh ::inside {:v [1 2] :s #{1} :l '(1) :m {}})
        classes (clojure.core/atom nil)]
    (swap! a (fn [v]
               (let [r (-> v
                           (assoc :n 1)
                           (update :v conj 3)
                           (update :v assoc 0 0)
                           (update :s conj 2)
                           (update :s disj 1)
                           (update :l conj 0)
                           (update :m assoc :k :v)
                           (dissoc :gone))]
                 (reset! classes (map class [r (:v r) (:s r) (:l r) (:m r) (pop (:v r)) (empty r)]))
                 r)))
    (is (= [MapView VecView SetView ListView MapView VecView MapView] @classes))
    (is (= {:v [0 2 3] :s #{2} :l '(0 1) :m {:k :v} :n 1} @a))
    (testing "assoc stores an equal value of another kind, as Clojure's does"
      (reset! a {:k [1 [2]] :v [[1]]})
      (swap! a assoc :k '(1 [2]))
      (is (seq? (:k @a)))
      (swap! a assoc :k '(1 (2)))
      (is (seq? (second (:k @a))))
      (swap! a update :v assoc 0 '(1))
      (is (seq? (first (:v @a))))
      (is (= {:k '(1 (2)) :v ['(1)]} @a)))))

(deftest atom-operations
  (let [a (fresh ::ops 0)]
    (is (= 0 @a))
    (is (= 1 (swap! a inc)))
    (is (= 3 (swap! a + 2)))
    (is (= 6 (swap! a + 1 2)))
    (is (= 10 (swap! a + 1 1 1 1)))
    (is (= [10 11] (swap-vals! a inc)))
    (is (= [11 13] (swap-vals! a + 2)))
    (is (= [13 0] (reset-vals! a 0)))
    (is (= 5 (reset! a 5)))
    (is (compare-and-set! a 5 6))
    (is (not (compare-and-set! a 5 7)))
    (is (= 6 @a))
    (testing "compare-and-set! is identity, as in Clojure: a view read from the atom"
      (reset! a {:big "a string too long to be immediate"})
      (is (not (compare-and-set! a {:big "a string too long to be immediate"} 1)))
      (let [v @a]
        (is (compare-and-set! a v 1)))
      (is (= 1 @a)))
    (testing "the init value is set only on an atom holding nil"
      (is (= 1 @(fresh ::ops 99))))
    (testing "version counts changes"
      (let [v0 (eve/version a)]
        (swap! a inc)
        (reset! a 0)
        (is (= (+ v0 2) (eve/version a)))))
    (testing "validators"
      (set-validator! a #(and (integer? %) (< % 100)))
      (is (thrown-with-msg? IllegalStateException #"Invalid reference state" (reset! a 100)))
      (is (thrown-with-msg? IllegalStateException #"Invalid reference state" (swap! a + 1000)))
      (is (not (try (compare-and-set! a 0 500) (catch IllegalStateException _ false))))
      (is (= 0 @a))
      (is (= 1 (swap! a inc)))
      (is (thrown? IllegalStateException (set-validator! a #(> % 5))) "refuses the current value")
      (set-validator! a nil)
      (is (= 500 (reset! a 500))))
    (testing "an atom with a validator from the options"
      (let [b (eve/atom {:id ::validated :persistent (u/path "v.eve") :validator pos?} 1)]
        (is (thrown? IllegalStateException (reset! b -1)))
        (is (= 1 @b))))
    (testing "meta"
      (is (= {:doc "x"} (meta (eve/atom {:id ::meta :persistent (u/path "v.eve") :meta {:doc "x"}} 1)))))))

(deftest in-memory-atoms-share-one-domain
  (let [a (eve/atom {:id ::mem} {:n 0})
        b (eve/atom {:id ::mem})]
    (swap! a update :n inc)
    (is (= {:n 1} @b))
    (is (nil? (.path (.domain a))))
    (is (identical? (.domain a) (.domain b)))
    (eve/remove! a)))

(deftest the-atom-name-is-the-id
  (is (= "eve.values-test/counter" (eve/atom-name ::counter)))
  (is (= "plain" (eve/atom-name :plain)))
  (is (= "s" (eve/atom-name "s")))
  (is (thrown? clojure.lang.ExceptionInfo (eve/atom-name 12)))
  (let [a (fresh ::named 1)]
    (is (some #{"eve.values-test/named"} (.atomNames (.domain a)))))
  (with-open [d (Domain/open (u/path "names.eve"))]
    (doseq [n ["b" "\u00e9" "a" "B"]] (.atom d n))
    (is (= ["B" "a" "b" "\u00e9"] (vec (.atomNames d))) "sorted by bytes")
    (.removeAtom d "a")
    (is (= ["B" "b" "\u00e9"] (vec (.atomNames d))))))
