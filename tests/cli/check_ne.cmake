# nembed ne: each TorchDR method gives the same file with -j 1 and -j 2 (fixed seed), and bad options fail with one
# error line naming them (unknown method with the valid ones, options that do not apply to the method, bad values).
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(DATA ${SRC}/tests/data/fmnist_4000_pca50.npy)
set(SMALL ${SRC}/tests/data/sensitivity_X.csv)
# SNE's exact normalisation is O(N^2) per step: fewer steps.
# Each method with its own options (perplexity or n_neighbors, TSNEkhorn's affinity kept short).
set(P10 "--perplexity;10")
foreach(case "sne;10;${P10}" "tsne;60;${P10}" "infotsne;60;${P10}" "largevis;60;${P10}"
             "umap;60;--n-neighbors;10;--min-dist;0.2;--negative-sample-rate;3;--metric;euclidean"
             "pacmap;60;--n-neighbors;8;--MN-ratio;1;--FP-ratio;1;--iter-per-phase;20"
             "cosne;10;${P10};--gamma;1.5;--learning-rate-for-h-loss;0.5"
             "tsnekhorn;10;${P10};--max-iter-affinity-in;3;--lr-affinity-in;0.2")
  list(GET case 0 m)
  list(GET case 1 it)
  list(SUBLIST case 2 -1 extra)
  foreach(j 1 2)
    execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/${m}${j}.npy --method ${m} --max-iter ${it} ${extra}
                            --check-interval 20 -j ${j} -q --seed 4 RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "ne --method ${m} -j ${j} failed: ${err}")
    endif()
  endforeach()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${m}1.npy ${WORK}/${m}2.npy RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    message(FATAL_ERROR "ne --method ${m}: -j 1 and -j 2 differ")
  endif()
endforeach()
# A different seed moves the negatives of LargeVis (the seed reaches the method).
execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/lv_seed.npy --method largevis --max-iter 60 --perplexity 10 -q
                        --seed 5 --timings ${WORK}/t.json --metrics ${WORK}/m.json RESULT_VARIABLE rc ERROR_VARIABLE err)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/largevis1.npy ${WORK}/lv_seed.npy
                RESULT_VARIABLE same)
if(NOT rc EQUAL 0 OR same EQUAL 0 OR NOT EXISTS ${WORK}/t.json OR NOT EXISTS ${WORK}/m.json)
  message(FATAL_ERROR "ne --seed 5: rc ${rc}, same file as --seed 4 (${same}) or no timings/metrics: ${err}")
endif()
# TSNE with --backend bh runs (Barnes-Hut beyond TorchDR).
execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/bh.npy --method tsne --backend bh --theta 0.5 --max-iter 20 -q
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ne --backend bh failed: ${err}")
endif()

# nembed pacmap is ne --method pacmap: the same bits.
execute_process(COMMAND ${EXE} pacmap ${DATA} -o ${WORK}/pacmap_cmd.npy --max-iter 60 --n-neighbors 8 --mn-ratio 1
                        --fp-ratio 1 --iter-per-phase 20 --check-interval 20 -q --seed 4 RESULT_VARIABLE rc
                        ERROR_VARIABLE err)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/pacmap1.npy ${WORK}/pacmap_cmd.npy
                RESULT_VARIABLE same)
if(NOT rc EQUAL 0 OR NOT same EQUAL 0)
  message(FATAL_ERROR "nembed pacmap and ne --method pacmap differ (rc ${rc}): ${err}")
endif()
# Method options reach the method: COSNE's --gamma, UMAP's --spread change the result.
foreach(case "cosne;10;${P10};--gamma;1.5;--learning-rate-for-h-loss;1" "umap;60;--n-neighbors;10;--min-dist;0.2;--negative-sample-rate;3;--metric;sqeuclidean")
  list(GET case 0 m)
  list(GET case 1 it)
  list(SUBLIST case 2 -1 extra)
  execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/${m}_other.npy --method ${m} --max-iter ${it} ${extra}
                          --check-interval 20 -q --seed 4 RESULT_VARIABLE rc ERROR_VARIABLE err)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${m}1.npy ${WORK}/${m}_other.npy
                  RESULT_VARIABLE same)
  if(NOT rc EQUAL 0 OR same EQUAL 0)
    message(FATAL_ERROR "ne --method ${m}: a changed option left the file unchanged (rc ${rc}): ${err}")
  endif()
endforeach()
# --transform writes the new points' embedding, the same bits with -j 1 and -j 2 (nearness: python/tests).
foreach(j 1 2)
  execute_process(COMMAND ${EXE} ne ${SMALL} -o ${WORK}/tr_fit${j}.npy --method umap --max-iter 200 --n-neighbors 8
                          --transform ${SMALL} --transform-output ${WORK}/tr_new${j}.npy -j ${j} -q --seed 1
                          RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/tr_new${j}.npy)
    message(FATAL_ERROR "ne --transform failed: ${err}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/tr_new1.npy ${WORK}/tr_new2.npy RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "ne --transform: -j 1 and -j 2 differ")
endif()

# --encoder: the network's fit gives the same bits with -j 1 and -j 2; --save-model keeps it and `nembed transform`
# of the saved model equals the fit's own --transform output and, on the training data, its embedding.
foreach(j 1 2)
  execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/enc${j}.npy --method umap --encoder --hidden 32,32
                          --encoder-batch-size 512 --max-iter 30 --check-interval 10 --transform ${DATA}
                          --transform-output ${WORK}/enc_tr${j}.npy --save-model ${WORK}/enc_model${j} -j ${j} -q
                          --seed 2 RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/enc_model${j}/model.json)
    message(FATAL_ERROR "ne --encoder -j ${j} failed: ${err}")
  endif()
endforeach()
execute_process(COMMAND ${EXE} transform -m ${WORK}/enc_model1 ${DATA} -o ${WORK}/enc_apply.npy -j 2 -q
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "transform of an ne --encoder model failed: ${err}")
endif()
foreach(pair "enc1.npy;enc2.npy" "enc_tr1.npy;enc_tr2.npy" "enc_tr1.npy;enc_apply.npy" "enc1.npy;enc_apply.npy")
  list(GET pair 0 a)
  list(GET pair 1 b)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${a} ${WORK}/${b} RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    message(FATAL_ERROR "ne --encoder: ${a} and ${b} differ")
  endif()
endforeach()
file(READ ${WORK}/enc_model1/model.json mj)
if(NOT mj MATCHES "\"method\": \"ne\"" OR NOT mj MATCHES "\"method\": \"UMAP\"")
  message(FATAL_ERROR "ne --encoder model.json does not name the method:\n${mj}")
endif()
# A method without TorchDR's transform transforms with the encoder (a forward pass).
execute_process(COMMAND ${EXE} ne ${DATA} -o ${WORK}/enc_tsne.npy --method tsne --perplexity 10 --encoder --hidden 16
                        --max-iter 10 --transform ${DATA} --transform-output ${WORK}/enc_tsne_tr.npy -q --seed 2
                        RESULT_VARIABLE rc ERROR_VARIABLE err)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/enc_tsne.npy ${WORK}/enc_tsne_tr.npy
                RESULT_VARIABLE same)
if(NOT rc EQUAL 0 OR NOT same EQUAL 0)
  message(FATAL_ERROR "ne --method tsne --encoder --transform: rc ${rc}, same ${same}: ${err}")
endif()

set(O ${WORK}/bad.npy)
set(cases
  "ne ${SMALL} -o ${O} --method umapx|unknown method 'umapx' \\(valid: sne, tsne, infotsne, largevis, umap, pacmap, tsnekhorn, cosne\\)"
  "ne ${SMALL} -o ${O} --method umap --perplexity 5|--perplexity does not apply to --method umap"
  "ne ${SMALL} -o ${O} --method pacmap --n-negatives 5|--n-negatives does not apply to --method pacmap"
  "ne ${SMALL} -o ${O} --method tsne --n-neighbors 5|--n-neighbors does not apply to --method tsne"
  "ne ${SMALL} -o ${O} --method cosne --perplexity 5 --min-dist 0.5|--min-dist does not apply to --method cosne"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --lr-affinity-in 0.5|--lr-affinity-in does not apply to --method umap"
  "ne ${SMALL} -o ${O} --method pacmap --metric manhattan|metric: unknown or unsupported PACMAP metric 'manhattan'"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --metric cosine|metric: unknown 'cosine'"
  "ne ${SMALL} -o ${O} --method pacmap --MN-ratio -1|MN.ratio"
  "ne ${SMALL} -o ${O} --method pacmap --iter-per-phase 0|iter.per.phase"
  "ne ${SMALL} -o ${O} --method pacmap --n-neighbors 40|n.neighbors"
  "ne ${SMALL} -o ${O} --method cosne --perplexity 5 --gamma 0|gamma"
  "ne ${SMALL} -o ${O} --method cosne --perplexity 5 --learning-rate-for-h-loss -1|learning.rate.for.h.loss"
  "ne ${SMALL} -o ${O} --method tsnekhorn --perplexity 5 --unrolling true|unrolling=true is not supported"
  "ne ${SMALL} -o ${O} --method tsnekhorn --perplexity 5 --tol-affinity-in -1|tol"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --spread -1|spread"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --negative-sample-rate -1|negative.sample.rate"
  "ne ${SMALL} -o ${O} --method tsne --perplexity 5 --transform ${SMALL} --transform-output ${WORK}/z.npy|--transform does not apply to --method tsne"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --transform ${SMALL}|--transform and --transform-output go together"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --transform ${DATA} --transform-output ${WORK}/z.npy|--transform: 50 columns"
  "ne ${SMALL} -o ${O} --method largevis --perplexity 5 --process-duplicates maybe|--process-duplicates"
  "ne ${SMALL} -o ${O} --method tsne --n-negatives 5|--n-negatives does not apply to --method tsne"
  "ne ${SMALL} -o ${O} --method sne --backend bh|--backend does not apply to --method sne"
  "ne ${SMALL} -o ${O} --method largevis --exclude-neighbors-from-negative-sampling true --theta 0.3|--theta does not apply to --method largevis"
  "ne ${SMALL} -o ${O} --method tsne --theta 0.3|--theta applies to --backend bh"
  "ne ${SMALL} -o ${O} --method tsne --perplexity 40|perplexity \\(40.*must be smaller than the number of samples"
  "ne ${SMALL} -o ${O} --perplexity 5 --repulsion-strength -1|repulsion.strength"
  "ne ${SMALL} -o ${O} --perplexity 5 --optimizer RMSprop|optimizer: 'RMSprop' is not supported"
  "ne ${SMALL} -o ${O} --perplexity 5 --scheduler StepLR|scheduler: 'StepLR' is not supported"
  "ne ${SMALL} -o ${O} --perplexity 5 --scheduler ExponentialLR|ExponentialLR needs gamma"
  "ne ${SMALL} -o ${O} --perplexity 5 --scheduler-kwargs auto --gamma 0.5|--scheduler-kwargs auto cannot be combined"
  "ne ${SMALL} -o ${O} --perplexity 5 --lr fast|--lr: expected a number or auto"
  "ne ${SMALL} -o ${O} --perplexity 5 --backend keops|backend: 'keops' is not supported"
  "ne ${SMALL} -o ${O} --perplexity 5 --max-iter 0|max.iter must be >= 1"
  "ne ${SMALL} -o ${O} --perplexity 5 --init-scaling nan|--init-scaling: must be a finite number"
  "ne ${SMALL} -o ${O} --method infotsne --perplexity 5 --n-negatives -3|--n-negatives: must be a non-negative integer"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --hidden 10|--hidden applies with --encoder"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --encoder --lr 2|--lr does not apply with --encoder"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --encoder --hidden 10,0|width must be > 0"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --encoder --encoder-lr 0|encoder: learning_rate must be positive"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --encoder --encoder-optimizer RMSprop|optimizer must be Adam or SGD"
  "ne ${SMALL} -o ${O} --method umap --n-neighbors 5 --save-model ${WORK}/m_bad|--save-model needs --encoder"
  "ne ${SMALL} -o ${O} --method cosne --perplexity 5 --encoder|COSNE: encoder is not supported"
  "transform -m ${WORK}/enc_model1 ${SMALL} -o ${O}|the network takes 50"
)
foreach(case ${cases})
  string(FIND "${case}" "|" bar REVERSE)
  string(SUBSTRING "${case}" 0 ${bar} argstr)
  separate_arguments(args UNIX_COMMAND "${argstr}")
  math(EXPR from "${bar} + 1")
  string(SUBSTRING "${case}" ${from} -1 expected)
  expect_one_error_line("${args};-q")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  if(NOT err MATCHES "nembed: error: [^\n]*${expected}")
    message(FATAL_ERROR "'${args}': expected an error matching '${expected}', got:\n${err}")
  endif()
endforeach()
if(EXISTS ${O})
  message(FATAL_ERROR "a failing command wrote ${O}")
endif()
