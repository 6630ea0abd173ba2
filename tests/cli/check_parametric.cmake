# nembed parametric tsne|umap (issue #17): the saved network reloads and `nembed transform` gives the bits of the fit's
# own output (with a PCA preprocessing kept in the model), the same bits with -j 1 and -j 2; bad input (a width <= 0,
# a phase with 0 epochs, an unknown routine or initialisation, new data of the wrong width) ends in one readable
# "nembed: error:" line. WORK is a scratch directory.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
set(X ${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv)
set(OTHER ${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_pca50.npy)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run_ok)
  execute_process(COMMAND ${EXE} ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "'${ARGN}' failed (rc ${rc}):\n${err}")
  endif()
endfunction()
function(expect_same a b what)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${a} ${b} RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    message(FATAL_ERROR "${what}: ${a} and ${b} differ")
  endif()
endfunction()

foreach(routine tsne umap)
  if(routine STREQUAL "tsne")
    set(small --epochs 3 --init-epochs 2 --batch-size 10)
  else()
    set(small --epochs 3 --init-epochs 2 --batch-size 5 --init-batch-size 10 --n-neighbors 5)
  endif()
  run_ok(parametric ${routine} ${X} -o ${WORK}/${routine}.npy ${small} --hidden 16,8 -j 2 --seed 3
         --save-model ${WORK}/${routine}_model -q)
  run_ok(parametric ${routine} ${X} -o ${WORK}/${routine}_j1.npy ${small} --hidden 16,8 -j 1 --seed 3 -q)
  expect_same(${WORK}/${routine}.npy ${WORK}/${routine}_j1.npy "parametric ${routine}: -j 1 and -j 2")
  file(READ ${WORK}/${routine}_model/model.json mjson)
  if(NOT mjson MATCHES "\"method\": \"paradime\"" OR NOT EXISTS ${WORK}/${routine}_model/network.npy)
    message(FATAL_ERROR "parametric ${routine}: the model directory is not a paradime model:\n${mjson}")
  endif()
  run_ok(transform ${X} -m ${WORK}/${routine}_model -o ${WORK}/${routine}_loaded.npy -j 2 -q)
  expect_same(${WORK}/${routine}.npy ${WORK}/${routine}_loaded.npy "parametric ${routine}: the reloaded network")
  # a different seed trains a different network (the comparison above can fail)
  run_ok(parametric ${routine} ${X} -o ${WORK}/${routine}_s4.npy ${small} --hidden 16,8 --seed 4 -q)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/${routine}.npy ${WORK}/${routine}_s4.npy
                  RESULT_VARIABLE differ)
  if(differ EQUAL 0)
    message(FATAL_ERROR "parametric ${routine}: seeds 3 and 4 gave the same embedding")
  endif()
endforeach()

# The network's input map (not in paraDime) is saved with it; --no-input-normalization trains on the raw rows, a
# different network, saved without a map, which also reloads to its bits.
file(READ ${WORK}/tsne_model/model.json mjson)
if(NOT mjson MATCHES "\"input_scale\"" OR NOT EXISTS ${WORK}/tsne_model/network_input_mean.npy)
  message(FATAL_ERROR "parametric tsne: the model has no input map:\n${mjson}")
endif()
# other_map(NAME FLAG...): the small t-SNE run of the loop above with FLAG... trains another network (its embedding
# differs from tsne.npy), whose saved model reloads to its bits.
function(other_map name)
  string(JOIN " " flags ${ARGN})
  run_ok(parametric tsne ${X} -o ${WORK}/${name}.npy --epochs 3 --init-epochs 2 --batch-size 10 --hidden 16,8 --seed 3
         ${ARGN} --save-model ${WORK}/${name}_model -q)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/tsne.npy ${WORK}/${name}.npy RESULT_VARIABLE differ)
  if(differ EQUAL 0)
    message(FATAL_ERROR "parametric tsne ${flags}: the embedding of the default input map")
  endif()
  run_ok(transform ${X} -m ${WORK}/${name}_model -o ${WORK}/${name}_loaded.npy -q)
  expect_same(${WORK}/${name}.npy ${WORK}/${name}_loaded.npy "parametric tsne ${flags}: the reloaded model")
endfunction()
other_map(raw --no-input-normalization)
file(READ ${WORK}/raw_model/model.json mjson)
if(mjson MATCHES "input_scale" OR EXISTS ${WORK}/raw_model/network_input_mean.npy)
  message(FATAL_ERROR "parametric tsne --no-input-normalization: the model has an input map:\n${mjson}")
endif()
# --input-row-norm 0: unit RMS per entry instead of paraDime's routines' row norm of 8, another map, saved with it.
other_map(unit --input-row-norm 0)

# The preprocessing (--pca) is kept with the network: raw rows go through both.
run_ok(parametric tsne ${X} --pca 2 -o ${WORK}/pca.npy --epochs 2 --init-epochs 1 --batch-size 10
       --save-model ${WORK}/pca_model -q)
run_ok(transform ${X} -m ${WORK}/pca_model -o ${WORK}/pca_loaded.npy -q)
expect_same(${WORK}/pca.npy ${WORK}/pca_loaded.npy "parametric tsne --pca 2: the reloaded model")

# The full-batch preset (not in paraDime): a ReLU network of the given widths, trained by the method's loss over every
# point; its saved model reloads to the fit's bits, and -j 1 gives the bits of -j 2.
foreach(routine tsne umap)
  if(routine STREQUAL "tsne")
    set(small --perplexity 5 --initialization none)
  else()
    set(small --n-neighbors 5 --init-batch-size 10)
  endif()
  run_ok(parametric ${routine} ${X} --full-batch --full-batch-iterations 300 --hidden 16,16 ${small} -j 2
         -o ${WORK}/fb_${routine}.npy --save-model ${WORK}/fb_${routine}_model -q)
  run_ok(parametric ${routine} ${X} --full-batch --full-batch-iterations 300 --hidden 16,16 ${small} -j 1
         -o ${WORK}/fb_${routine}_j1.npy -q)
  expect_same(${WORK}/fb_${routine}.npy ${WORK}/fb_${routine}_j1.npy "parametric ${routine} --full-batch: -j 1 and -j 2")
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/fb_${routine}.npy ${WORK}/${routine}.npy
                  RESULT_VARIABLE differ)
  if(differ EQUAL 0)
    message(FATAL_ERROR "parametric ${routine}: --full-batch gave paraDime's batch run")
  endif()
  file(READ ${WORK}/fb_${routine}_model/model.json mjson)
  if(NOT mjson MATCHES "\"hidden_activation\": \"relu\"" OR NOT mjson MATCHES "\"full_batch\": {")
    message(FATAL_ERROR "parametric ${routine} --full-batch: not the preset's ReLU network:\n${mjson}")
  endif()
  run_ok(transform ${X} -m ${WORK}/fb_${routine}_model -o ${WORK}/fb_${routine}_loaded.npy -q)
  expect_same(${WORK}/fb_${routine}.npy ${WORK}/fb_${routine}_loaded.npy "parametric ${routine} --full-batch: reloaded")
endforeach()

# The mixed schedule (--full-batch-after-kl): the KL batch phases stay before the full-batch phase (the record names
# both), and the model reloads to the fit's bits.
run_ok(parametric tsne ${X} --full-batch --full-batch-after-kl --full-batch-exaggeration 1 --full-batch-iterations 50
       --epochs 2 --batch-size 10 --hidden 16,16 --perplexity 5 -j 2 -o ${WORK}/mix.npy --save-model ${WORK}/mix_model -q)
file(READ ${WORK}/mix_model/model.json mjson)
if(NOT mjson MATCHES "\"embedding\"" OR NOT mjson MATCHES "\"full_batch\": {")
  message(FATAL_ERROR "parametric tsne --full-batch-after-kl: not batch phases then full batch:\n${mjson}")
endif()
run_ok(transform ${X} -m ${WORK}/mix_model -o ${WORK}/mix_loaded.npy -q)
expect_same(${WORK}/mix.npy ${WORK}/mix_loaded.npy "parametric tsne --full-batch-after-kl: reloaded")

# The full-batch phase's input noise (--full-batch-input-noise): recorded in the model, reloads to the fit's bits,
# -j 1 = -j 2, another result than without.
foreach(j 1 2)
  run_ok(parametric tsne ${X} --full-batch --full-batch-iterations 40 --full-batch-input-noise 0.3 --hidden 16,16
         --perplexity 5 -j ${j} -o ${WORK}/noise_j${j}.npy --save-model ${WORK}/noise_model_j${j} -q)
endforeach()
expect_same(${WORK}/noise_j1.npy ${WORK}/noise_j2.npy "parametric tsne --full-batch-input-noise: -j 1 against -j 2")
file(READ ${WORK}/noise_model_j2/model.json mjson)
if(NOT mjson MATCHES "\"input_noise\": 0.3")
  message(FATAL_ERROR "parametric tsne --full-batch-input-noise: not recorded:\n${mjson}")
endif()
run_ok(transform ${X} -m ${WORK}/noise_model_j2 -o ${WORK}/noise_loaded.npy -q)
expect_same(${WORK}/noise_j2.npy ${WORK}/noise_loaded.npy "parametric tsne --full-batch-input-noise: reloaded")
run_ok(parametric tsne ${X} --full-batch --full-batch-iterations 40 --hidden 16,16 --perplexity 5 -j 2
       -o ${WORK}/noise_off.npy -q)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/noise_j2.npy ${WORK}/noise_off.npy RESULT_VARIABLE differ)
if(differ EQUAL 0)
  message(FATAL_ERROR "parametric tsne --full-batch-input-noise 0.3 gave the noiseless run")
endif()

# The transform-consistency penalty (--full-batch-consistency): recorded in the model, reloads to the fit's bits,
# -j 1 = -j 2 (also through the targets), another result than the noiseless run without it.
foreach(j 1 2)
  run_ok(parametric tsne ${X} --full-batch --full-batch-iterations 40 --full-batch-consistency 0.3
         --full-batch-consistency-samples 50 --full-batch-consistency-neighbors 4 --full-batch-consistency-perplexity 3
         --hidden 16,16 --perplexity 5 -j ${j} -o ${WORK}/tc_j${j}.npy --save-model ${WORK}/tc_model_j${j} -q)
  run_ok(parametric tsne ${X} --full-batch --full-batch-iterations 20 --full-batch-consistency 0.3
         --full-batch-consistency-samples 50 --full-batch-consistency-neighbors 4 --full-batch-consistency-perplexity 3
         --full-batch-consistency-through-targets --hidden 16,16 --perplexity 5 -j ${j} -o ${WORK}/tct_j${j}.npy -q)
endforeach()
expect_same(${WORK}/tc_j1.npy ${WORK}/tc_j2.npy "parametric tsne --full-batch-consistency: -j 1 against -j 2")
expect_same(${WORK}/tct_j1.npy ${WORK}/tct_j2.npy "--full-batch-consistency-through-targets: -j 1 against -j 2")
file(READ ${WORK}/tc_model_j2/model.json mjson)
if(NOT mjson MATCHES "\"transform_consistency\"" OR NOT mjson MATCHES "\"samples\": 50")
  message(FATAL_ERROR "parametric tsne --full-batch-consistency: not recorded:\n${mjson}")
endif()
run_ok(transform ${X} -m ${WORK}/tc_model_j2 -o ${WORK}/tc_loaded.npy -q)
expect_same(${WORK}/tc_j2.npy ${WORK}/tc_loaded.npy "parametric tsne --full-batch-consistency: reloaded")
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/tc_j2.npy ${WORK}/noise_off.npy RESULT_VARIABLE differ)
if(differ EQUAL 0)
  message(FATAL_ERROR "parametric tsne --full-batch-consistency 0.3 gave the run without it")
endif()

function(expect_error fragment)
  expect_one_error_line("${ARGN}")
  execute_process(COMMAND ${EXE} ${ARGN} ERROR_VARIABLE err)
  string(FIND "${err}" "${fragment}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "'${ARGN}': expected '${fragment}' in:\n${err}")
  endif()
endfunction()
expect_error("--hidden: every layer width must be > 0, got 0" parametric tsne ${X} -o ${WORK}/e.npy --hidden 8,0 -q)
expect_error("--hidden: every layer width must be > 0, got -2" parametric umap ${X} -o ${WORK}/e.npy --hidden -2 -q)
expect_error("training phase 'embedding': epochs must be >= 1, got 0" parametric tsne ${X} -o ${WORK}/e.npy --epochs 0 -q)
expect_error("training phase 'spectral_init': epochs must be >= 1, got 0"
             parametric umap ${X} -o ${WORK}/e.npy --init-epochs 0 -q)
expect_error("unknown learning-rate annealing 'sideways'" parametric tsne ${X} -o ${WORK}/e.npy --lr-anneal sideways -q)
expect_error("lr_anneal must be none, linear or cosine" parametric umap ${X} -o ${WORK}/e.npy --lr-anneal umap -q)
expect_error("'early_exaggeration': exaggeration must be positive"
             parametric tsne ${X} -o ${WORK}/e.npy --early-exaggeration-epochs 2 --early-exaggeration 0 -q)
expect_error("unknown routine 'isomap' (expected tsne or umap)" parametric isomap ${X} -o ${WORK}/e.npy -q)
expect_error("nembed parametric needs a routine" parametric -q)
expect_error("input_row_norm must be finite and >= 0 (0: unit RMS per entry), got -1"
             parametric umap ${X} -o ${WORK}/e.npy --input-row-norm -1 -q)
expect_error("full_batch: input_noise must be >= 0"
             parametric tsne ${X} -o ${WORK}/e.npy --full-batch --full-batch-input-noise -1 -q)
expect_error("transform consistency: weight must be >= 0"
             parametric tsne ${X} -o ${WORK}/e.npy --full-batch --full-batch-consistency -1 -q)
expect_error("initialization must be 'pca' or 'none', got 'spectral'"
             parametric tsne ${X} -o ${WORK}/e.npy --initialization spectral -q)
expect_error("new data has 50 columns after preprocessing, the network takes 3"
             transform ${OTHER} -m ${WORK}/tsne_model -o ${WORK}/e.npy -q)
expect_error("the network takes 3" transform ${OTHER} -m ${WORK}/umap_model -o ${WORK}/e.npy -q)
expect_error("--n-iter applies to t-SNE models" transform ${X} -m ${WORK}/tsne_model -o ${WORK}/e.npy --n-iter 5 -q)
# Negative values of the PCA phase's settings are mistakes, not their 0 default ("as the main phase").
expect_error("ParametricTSNE: init_batch_size must be >= 0 (0: batch_size), got -7"
             parametric tsne ${X} -o ${WORK}/e.npy --init-batch-size -7 -q)
expect_error("ParametricTSNE: init_learning_rate must be >= 0 (0: learning_rate), got -1"
             parametric tsne ${X} -o ${WORK}/e.npy --init-learning-rate -1 -q)
# Batches of one point have no pairs for the KL loss.
expect_error("training phase 'embedding': batch_size must be >= 2 for a relation loss"
             parametric tsne ${X} -o ${WORK}/e.npy --batch-size 1 -q)
# A 1-column input cannot give a 2-D PCA start; the error names both numbers.
file(WRITE ${WORK}/one_col.csv "0.1\n0.5\n0.2\n0.9\n1.3\n1.1\n2.0\n2.2\n0.7\n1.7\n3.1\n2.9\n")
expect_error("PCA needs n_components <= the data's dimension, got n_components 2 for data of 1 feature(s)"
             parametric tsne ${WORK}/one_col.csv -o ${WORK}/e.npy -q)
# Values near float32's limit overflow the neighbour distances: named there, not as a NaN sum of a transform.
file(WRITE ${WORK}/huge.csv "3e38,-3e38\n-3e38,3e38\n3e38,3e38\n-3e38,-3e38\n1e38,-3e38\n-1e38,2e38\n")
foreach(routine tsne umap)
  expect_error("NeighborBasedPDist: the distance from row 0 to a neighbour is not finite"
               parametric ${routine} ${WORK}/huge.csv -o ${WORK}/e.npy -q)
endforeach()
# 30 points in batches of 29: the last batch holds one point (no pairs) and contributes nothing; it used to stop
# ParametricTSNE with "Normalize: the batch relations sum to 0" (as 501 points with the default batch of 500).
run_ok(parametric tsne ${X} -o ${WORK}/last1.npy --epochs 2 --init-epochs 1 --batch-size 29 -q)
# A model whose network file disagrees with its widths is refused naming the file.
file(COPY ${WORK}/tsne_model/ DESTINATION ${WORK}/bad_model)
file(COPY_FILE ${WORK}/umap_model/embedding.npy ${WORK}/bad_model/network.npy)
expect_error("network.npy" transform ${X} -m ${WORK}/bad_model -o ${WORK}/e.npy -q)
if(EXISTS ${WORK}/e.npy)
  message(FATAL_ERROR "a failed command wrote its output")
endif()
