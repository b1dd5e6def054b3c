(ns eve.errors-test
  "Error paths: every eve error is an exception, never a crash."
  (:require [clojure.java.io :as io]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u])
  (:import [eve Domain EveException]
           [java.io RandomAccessFile]))

(use-fixtures :each u/with-tmp-dir)

(defmacro eve-code
  "The EVE_E* code of the EveException body throws, or :no-exception."
  [& body]
  `(try ~@body :no-exception
        (catch EveException e# (.code e#))))

(deftest a-swap-function-that-throws-publishes-nothing
  (let [a (eve/atom {:id ::throws :persistent (u/path "e.eve")} {:n 1})
        v0 (eve/version a)
        boom (ex-info "boom" {:x 1})
        seen (clojure.core/atom 0)]
    (is (identical? boom (try (swap! a (fn [v] (swap! seen inc) (throw boom))) nil
                              (catch clojure.lang.ExceptionInfo e e)))
        "the very exception propagates")
    (is (= 1 @seen))
    (is (= {:n 1} @a))
    (is (= v0 (eve/version a)) "nothing was published")
    (testing "after building values in the domain"
      (is (thrown? ArithmeticException
                   (swap! a (fn [v] (-> v (assoc :big (vec (range 100))) (update :n / 0))))))
      (is (= {:n 1} @a))
      (is (= v0 (eve/version a))))
    (testing "a checked exception thrown sneakily"
      (is (thrown? java.io.IOException (swap! a (fn [_] (throw (java.io.IOException. "io"))))))
      (is (= v0 (eve/version a))))
    (testing "the domain stays sound"
      (is (zero? (.check (.domain a)))))))

(deftest a-swap-function-must-not-change-its-own-atom
  (let [a (eve/atom {:id ::reentry :persistent (u/path "e.eve")} 0)
        b (eve/atom {:id ::other :persistent (u/path "e.eve")} 0)]
    (is (= "EVE_EREENTRY" (eve-code (swap! a (fn [v] (swap! a inc) v)))))
    (is (= "EVE_EREENTRY" (eve-code (swap! a (fn [v] (reset! a 5) v)))))
    (is (= 0 @a))
    (testing "but may change another atom"
      (is (= 1 (swap! a (fn [v] (swap! b inc) (inc v)))))
      (is (= 1 @b)))))

(deftest views-of-a-finished-swap-attempt-refuse-to-read
  (let [a (eve/atom {:id ::escape :persistent (u/path "e.eve")} {:v [1 2]})
        leaked (clojure.core/atom nil)]
    (swap! a (fn [v] (reset! leaked v) (assoc v :x 1)))
    (is (= "EVE_ETXN" (eve-code (count @leaked))))
    (is (= "EVE_ETXN" (eve-code (get @leaked :v))))
    (is (= "EVE_ETXN" (eve-code (reset! a @leaked))))
    (is (= {:v [1 2] :x 1} @a))))

(deftest a-closed-view-refuses-to-read
  (let [a (eve/atom {:id ::closed-view :persistent (u/path "e.eve")} {:v [1 2]})
        v @a
        inner (:v v)]
    (eve/close-view! v)
    (is (= "EVE_ETXN" (eve-code (count v))))
    (is (= "EVE_ETXN" (eve-code (nth inner 0))) "views of the same snapshot end with it")
    (is (= {:v [1 2]} @a) "a new deref reads")
    (eve/close-view! v)))

(deftest removed-atoms
  (let [a (eve/atom {:id ::removed :persistent (u/path "e.eve")} {:n 1})
        v @a]
    (eve/remove! a)
    (is (= "EVE_EREMOVED" (eve-code @a)))
    (is (= "EVE_EREMOVED" (eve-code (swap! a assoc :n 2))))
    (is (= "EVE_EREMOVED" (eve-code (reset! a 1))))
    (is (= "EVE_EREMOVED" (eve-code (compare-and-set! a v 1))))
    (is (= {:n 1} v) "a value read before stays readable")
    (is (= "EVE_ENOTFOUND" (eve-code (.removeAtom (.domain a) "eve.errors-test/removed"))))
    (is (= "EVE_ENOTFOUND" (eve-code (.atom (.domain a) "never-made" false))))))

(deftest closed-domains
  (let [d (Domain/open (u/path "closed.eve"))
        a (.atom d "x")]
    (.reset a {:v [1 2 3]})
    (let [v (.deref a)
          inner (:v v)]
      (.close d)
      (.close d)
      (is (.isClosed d))
      (is (= "EVE_EINVAL" (eve-code (.deref a))))
      (is (= "EVE_EINVAL" (eve-code (.reset a 1))))
      (is (= "EVE_EINVAL" (eve-code (.swap a (reify java.util.function.Function (apply [_ x] x))))))
      (is (= "EVE_EINVAL" (eve-code (.version a))))
      (is (= "EVE_EINVAL" (eve-code (.atom d "y"))))
      (is (= "EVE_EINVAL" (eve-code (.stats d))))
      (is (= "EVE_EINVAL" (eve-code (count v))) "views end with their domain")
      (is (= "EVE_EINVAL" (eve-code (first inner)))))
    (testing "the file opens again, with its value"
      (with-open [d2 (Domain/open (u/path "closed.eve"))]
        (is (= {:v [1 2 3]} (.deref (.atom d2 "x"))))))
    (testing "eve.core's shared handle reopens after close!"
      (let [b (eve/atom {:id "x" :persistent (u/path "closed.eve")})]
        (is (= {:v [1 2 3]} @b))
        (eve/close! b)
        (is (= "EVE_EINVAL" (eve-code @b)))
        (is (= {:v [1 2 3]} @(eve/atom {:id "x" :persistent (u/path "closed.eve")})))
        (eve/close! (eve/domain {:persistent (u/path "closed.eve")}))))))

(defn- spit-bytes [path ^bytes bs]
  (with-open [o (io/output-stream path)] (.write o bs)))

(deftest bad-and-corrupt-files
  (testing "not a domain"
    (spit (u/path "text.eve") (apply str (repeat 10000 "not an eve domain ")))
    (is (= "EVE_ENOTDOMAIN" (eve-code (Domain/open (u/path "text.eve"))))))
  (testing "an empty file"
    (spit (u/path "empty.eve") "")
    (is (contains? #{"EVE_ENOTDOMAIN" "EVE_ETRUNC" "EVE_EBADHDR"} (eve-code (Domain/open (u/path "empty.eve"))))))
  (testing "a damaged header"
    (with-open [d (Domain/open (u/path "hdr.eve"))]
      (.reset (.atom d "x") [1 2 3]))
    (with-open [f (RandomAccessFile. (u/path "hdr.eve") "rw")]
      (doseq [off (range 16 64)]
        (.seek f off)
        (.write f (bit-xor 0x5a (.read (doto f (.seek off)))))))
    (is (contains? #{"EVE_EBADHDR" "EVE_EVERSION" "EVE_ENOTDOMAIN"} (eve-code (Domain/open (u/path "hdr.eve"))))))
  (testing "a file cut short"
    (with-open [d (Domain/open (u/path "cut.eve"))]
      (.reset (.atom d "x") (vec (range 5000))))
    (with-open [f (RandomAccessFile. (u/path "cut.eve") "rw")]
      (.setLength f 100))
    (is (string? (eve-code (Domain/open (u/path "cut.eve")))))
    (is (not= :no-exception (eve-code (Domain/open (u/path "cut.eve"))))))
  (testing "a missing file with EXISTING, an existing one with NEW"
    (is (= "EVE_ENOENT" (eve-code (Domain/open (u/path "none.eve") Domain/EXISTING Domain/DEFAULT_MAX_SIZE))))
    (with-open [_ (Domain/open (u/path "new.eve"))])
    (is (= "EVE_EEXIST" (eve-code (Domain/open (u/path "new.eve") Domain/NEW Domain/DEFAULT_MAX_SIZE))))
    (is (= "EVE_ENOENT" (eve-code (Domain/open (u/path "no/such/dir.eve")))))))

(deftest read-only-domains
  (with-open [d (Domain/open (u/path "ro.eve"))]
    (.reset (.atom d "x") {:a [1 2]}))
  (with-open [d (Domain/open (u/path "ro.eve") (bit-or Domain/EXISTING Domain/RDONLY) 0)]
    (let [a (.atom d "x" false)]
      (is (= {:a [1 2]} (.deref a)))
      (is (= "EVE_ETXN" (eve-code (.reset a 1))))
      (is (= "EVE_ETXN" (eve-code (.swap a (reify java.util.function.Function (apply [_ x] x))))))
      (is (= "EVE_ETXN" (eve-code (.atom d "new-one"))))
      (is (= {:a [1 2]} (.deref a)))))
  (is (= "EVE_EINVAL" (eve-code (Domain/open (u/path "ro2.eve") (bit-or Domain/NEW Domain/RDONLY) 0)))))

(deftest bad-arguments
  (with-open [d (Domain/open (u/path "args.eve"))]
    (is (= "EVE_EINVAL" (eve-code (.atom d ""))) "an empty atom name")
    (is (= "EVE_EINVAL" (eve-code (.atom d "nul\u0000inside"))))
    (let [a (.atom d "c")]
      (.reset a 1)
      (is (= "EVE_ERANGE" (eve-code (.reset a (char 0xD800)))) "a lone surrogate is no character")
      (is (= 1 (.deref a))))
    (testing "nesting past eve's limit"
      (let [a (.atom d "deep")
            deep (reduce (fn [acc _] [acc]) [] (range 5000))]
        (is (= "EVE_EDEPTH" (eve-code (.reset a deep))))
        (is (nil? (.deref a)))))
    (is (thrown? IllegalArgumentException (Domain/open nil)))
    (is (= "EVE_EINVAL" (eve-code (Domain/open (u/path "nul\u0000.eve")))))
    (testing "a path and an atom name beyond ASCII"
      (with-open [d2 (Domain/open (u/path "d\u00e9-\ud83d\ude00.eve"))]
        (.reset (.atom d2 "\u00e9t\u00e9 \ud83d\ude00") 42))
      (is (.exists (java.io.File. (u/path "d\u00e9-\ud83d\ude00.eve"))))
      (with-open [d2 (Domain/open (u/path "d\u00e9-\ud83d\ude00.eve"))]
        (is (= ["\u00e9t\u00e9 \ud83d\ude00"] (vec (.atomNames d2))))
        (is (= 42 (.deref (.atom d2 "\u00e9t\u00e9 \ud83d\ude00" false))))))))
