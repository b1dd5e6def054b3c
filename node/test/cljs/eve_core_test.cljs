(ns eve-core-test
  (:require [cljs.test :as t :refer [deftest is testing async]]
            [eve.core :as eve]
            ["fs" :as fs]
            ["os" :as os]
            ["path" :as path]))

(def dir (fs/mkdtempSync (path/join (os/tmpdir) "eve-nbb-")))
(def db (path/join dir "db.eve"))

(deftest basics
  (let [c (eve/atom {:id ::counter :persistent db} 0)]
    (is (= 0 @c))
    (is (= 1 (swap! c inc)))
    (is (= 11 (swap! c + 10)))
    (is (= 14 (swap! c + 1 2)))
    (is (= 20 (swap! c + 1 2 3)))
    (is (= 35 (swap! c + 1 2 3 4 5)))
    (is (= 20 (swap! c - 15)))
    (is (= 5 (reset! c 5)))
    (is (= [5 6] (swap-vals! c inc)))
    (is (= [6 0] (reset-vals! c 0)))
    (is (true? (compare-and-set! c 0 1)))
    (is (false? (compare-and-set! c 0 2)))
    (is (= 1 @c))
    (testing "the same :id and file: the same atom, keeping its value"
      (let [c2 (eve/atom {:id ::counter :persistent db} 100)]
        (is (= 1 @c2))
        (swap! c2 inc)
        (is (= 2 @c))))))

(deftest conversions
  (let [a (eve/atom {:id :data :persistent db})
        v {:k :kw :ns/k 'sym "s" 1.5 :v [1 2 [3]] :l '(1 2) :s #{1 :a "b"}
           :m {[1 2] {:deep true}} :nil nil :inst (js/Date. 0)
           :uuid (uuid "00000000-0000-0000-0000-000000000001") :big 9007199254740993}]
    (reset! a v)
    (is (= v @a))
    (is (list? (:l @a)))
    (is (vector? (:v @a)))
    (is (set? (:s @a)))
    (swap! a update :v conj 4)
    (is (= [1 2 [3] 4] (:v @a)))
    (swap! a assoc-in [:m [1 2] :deep] false)
    (is (false? (get-in @a [:m [1 2] :deep])))))

(deftest in-memory
  (let [m (eve/atom {:id :mem} {:n 0})]
    (dotimes [_ 100] (swap! m update :n inc))
    (is (= {:n 100} @m))))

(deftest swap-throws
  (let [a (eve/atom {:id :throws :persistent db} 1)]
    (is (thrown? js/Error (swap! a (fn [_] (throw (js/Error. "no"))))))
    (is (= 1 @a))))

(deftest watches
  (async done
    (let [a (eve/atom {:id :watched :persistent db} 0)
          seen (cljs.core/atom [])]
      (add-watch a :w (fn [k r old new]
                        (swap! seen conj [k old new])
                        (when (= new 3)
                          (remove-watch a :w)
                          (is (= [[:w 0 1] [:w 1 2] [:w 2 3]] @seen))
                          (done))))
      (letfn [(bump [i] (when (<= i 3) (js/setTimeout (fn [] (reset! a i) (bump (inc i))) 50)))]
        (bump 1)))))

(defmethod t/report [:cljs.test/default :end-run-tests] [m]
  (fs/rmSync dir #js {:recursive true :force true})
  (println "nbb tests:" (:test m) "tests," (:pass m) "assertions passed," (:fail m) "failed," (:error m) "errors")
  (when-not (t/successful? m) (set! (.-exitCode js/process) 1)))

(t/run-tests 'eve-core-test)
