"""Prediction vectors and their cosine similarity, against direct forward passes, numpy and scikit-learn."""
import re

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
from torch import nn

from rashomon_widgets.core.comparison.similarity import cosine_similarity, prediction_vectors
from rashomon_widgets.models import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def nets(count=3, dtype=torch.float64, in_features=5, classes=4):
    out = []
    for seed in range(count):
        torch.manual_seed(seed)
        out.append(MLP(in_features, (7,), classes, activation="tanh").to(dtype))
    return out


def inputs(n=23, d=5, seed=0, dtype=torch.float64):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def numpy_cosine(vectors):
    """A plain loop over pairs: dot / (norm * norm), 0 for a zero vector, 1 on the diagonal."""
    v = np.asarray(vectors, dtype=np.float64)
    out = np.empty((len(v), len(v)))
    for i in range(len(v)):
        for j in range(len(v)):
            ni, nj = np.sqrt(np.sum(v[i] ** 2)), np.sqrt(np.sum(v[j] ** 2))
            out[i, j] = 1.0 if i == j else (np.sum(v[i] * v[j]) / (ni * nj) if ni > 0 and nj > 0 else 0.0)
    return out


# ------------------------------------------------------------------------------- prediction vectors
@pytest.mark.parametrize("behaviour", ["softmax", "logits", "labels"])
def test_prediction_vectors_match_direct_forward_passes(behaviour):
    models, x = nets(), inputs()
    got = prediction_vectors(models, x, behaviour=behaviour)
    assert got.shape == (3, 23 * 4) and got.dtype == torch.float64 and got.device.type == "cpu"
    for row, model in zip(got, models):
        with torch.no_grad():
            logits = model(x).numpy()
        if behaviour == "softmax":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            expected = e / e.sum(axis=1, keepdims=True)
        elif behaviour == "logits":
            expected = logits
        else:
            expected = np.eye(4)[logits.argmax(axis=1)]
        np.testing.assert_allclose(row.numpy(), expected.ravel(), rtol=0, atol=1e-14)  # sample-major order
    assert torch.equal(prediction_vectors(models, x), prediction_vectors(models, x, behaviour="softmax"))


def test_label_similarity_is_the_share_of_agreeing_predictions():
    models, x = nets(4), inputs(n=200, seed=1)
    S = cosine_similarity(prediction_vectors(models, x, behaviour="labels"))
    with torch.no_grad():
        labels = [m(x).argmax(dim=1).numpy() for m in models]
    for i in range(4):
        for j in range(4):
            assert S[i, j] == pytest.approx(np.mean(labels[i] == labels[j]), abs=1e-12)
    assert S.min() < 1.0  # the nets do disagree somewhere, so the check above is not vacuous


@pytest.mark.parametrize("batch_size", [1, 4, 22, 23, 1024])
def test_batch_size_does_not_change_the_vectors(batch_size):
    models, x = nets(2), inputs()
    reference = prediction_vectors(models, x, batch_size=10**6)
    torch.testing.assert_close(prediction_vectors(models, x, batch_size=batch_size), reference,
                               rtol=0, atol=1e-14)


def test_models_are_evaluated_in_eval_mode_and_modes_restored():
    torch.manual_seed(0)
    dropping = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.Linear(8, 3)).double().train()
    plain = nets(1, classes=3)[0].eval()
    x = inputs()
    got = prediction_vectors([dropping, plain], x, behaviour="logits")
    assert dropping.training and not plain.training
    dropping.eval()
    with torch.no_grad():
        expected = dropping(x).flatten()  # dropout off: deterministic
    torch.testing.assert_close(got[0], expected, rtol=0, atol=0)
    assert all(p.grad is None for p in dropping.parameters())


def test_inputs_are_cast_to_each_models_dtype():
    f32, f64 = nets(1, torch.float32)[0], nets(1, torch.float64)[0]
    x = inputs(dtype=torch.float32)
    got = prediction_vectors([f32, f64], x, behaviour="logits")
    with torch.no_grad():
        torch.testing.assert_close(got[0], f32(x).double().flatten(), rtol=0, atol=0)
        torch.testing.assert_close(got[1], f64(x.double()).flatten(), rtol=0, atol=0)
    torch.testing.assert_close(got[0], got[1], rtol=0, atol=1e-5)  # the same net in two precisions


def test_image_shaped_inputs_and_a_parameterless_model():
    x = inputs(n=6, d=12).reshape(6, 3, 2, 2)
    flatten = nn.Flatten()  # no parameters: runs on the inputs' device and dtype
    got = prediction_vectors([flatten], x, behaviour="logits")
    torch.testing.assert_close(got[0], x.reshape(-1), rtol=0, atol=0)


# ------------------------------------------------------------------------------- cosine similarity
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cosine_similarity_matches_sklearn_and_a_numpy_loop(seed):
    vectors = torch.randn(6, 40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    vectors[2] = -3.0 * vectors[0]  # exactly opposite
    vectors[4] = 0.5 * vectors[1]   # same direction
    S = cosine_similarity(vectors)
    assert isinstance(S, np.ndarray) and S.shape == (6, 6) and S.dtype == np.float64
    np.testing.assert_allclose(S, sk_cosine(vectors.numpy()), rtol=0, atol=1e-12)
    np.testing.assert_allclose(S, numpy_cosine(vectors.numpy()), rtol=0, atol=1e-12)
    assert np.array_equal(S, S.T) and np.all(np.diag(S) == 1.0)
    assert S[0, 2] == pytest.approx(-1.0, abs=1e-12) and S[1, 4] == pytest.approx(1.0, abs=1e-12)
    assert S.min() >= -1.0 and S.max() <= 1.0


def test_cosine_similarity_of_prediction_vectors_matches_sklearn():
    vectors = prediction_vectors(nets(4), inputs(), behaviour="logits")
    np.testing.assert_allclose(cosine_similarity(vectors), sk_cosine(vectors.numpy()), rtol=0, atol=1e-12)
    probs = prediction_vectors(nets(4), inputs())
    np.testing.assert_allclose(cosine_similarity(probs), numpy_cosine(probs.numpy()), rtol=0, atol=1e-12)


def test_cosine_similarity_zero_rows_and_float32():
    vectors = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    S = cosine_similarity(vectors)
    expected = sk_cosine(vectors.double().numpy())
    np.fill_diagonal(expected, 1.0)  # sklearn leaves 0 for the zero row; here a vector equals itself
    np.testing.assert_allclose(S, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(S, numpy_cosine(vectors.numpy()), rtol=0, atol=1e-15)
    assert S[0, 2] == pytest.approx(1 / 3, abs=1e-15) and S[1, 1] == 1.0 and S[0, 1] == 0.0


def test_identical_models_have_similarity_one():
    model, other = nets(2)
    S = cosine_similarity(prediction_vectors([model, model, other], inputs()))
    assert S[0, 1] == pytest.approx(1.0, abs=1e-15) and S[0, 2] < 1.0


# ------------------------------------------------------------------------------- bad input
def test_bad_prediction_vector_arguments():
    models, x = nets(2), inputs()
    with pytest.raises(ValueError, match="behaviour: expected one of 'softmax', 'logits', 'labels', got 'probs'"):
        prediction_vectors(models, x, behaviour="probs")
    with pytest.raises(ValueError, match="models: expected a non-empty list of torch.nn.Module, got an empty list"):
        prediction_vectors([], x)
    with pytest.raises(TypeError, match="models: expected a non-empty list of torch.nn.Module, got MLP"):
        prediction_vectors(models[0], x)
    with pytest.raises(TypeError, match="models\\[1\\]: expected a torch.nn.Module, got function"):
        prediction_vectors([models[0], lambda t: t], x)
    with pytest.raises(ValueError, match=re.escape("inputs: expected a tensor (N, ...) with N >= 1, got tensor of "
                                                  "shape (5,)")):
        prediction_vectors(models, x[0])
    with pytest.raises(ValueError, match=re.escape("inputs: expected a tensor (N, ...) with N >= 1, got tensor of "
                                                  "shape (0, 5)")):
        prediction_vectors(models, x[:0])
    with pytest.raises(TypeError, match=re.escape("inputs: expected a tensor (N, ...) with N >= 1, got ndarray")):
        prediction_vectors(models, x.numpy())
    with pytest.raises(ValueError, match=re.escape("models[1]: expected outputs of the same shape as models[0]'s, "
                                                   "got (23, 3) against 92 values")):
        prediction_vectors([models[0], nets(1, classes=3)[0]], x)
    with pytest.raises(ValueError, match=re.escape("models[0]: expected outputs of shape (N, C), got (23,)")):
        prediction_vectors([nn.Sequential(nn.Linear(5, 1), nn.Flatten(0))], x)
    for bad, error in ((0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match=re.escape("batch_size: expected an int in [1, 2147483647], got ")):
            prediction_vectors(models, x, batch_size=bad)


def test_bad_cosine_similarity_arguments():
    with pytest.raises(ValueError, match=re.escape("vectors: expected a 2-D tensor (V, D), got tensor of shape "
                                                   "(3,)")):
        cosine_similarity(torch.ones(3))
    with pytest.raises(ValueError, match=re.escape("vectors: expected a 2-D tensor (V, D), got ndarray")):
        cosine_similarity(np.ones((2, 3)))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="vectors: expected finite entries, got NaN or inf"):
            cosine_similarity(torch.tensor([[1.0, bad], [1.0, 0.0]]))
