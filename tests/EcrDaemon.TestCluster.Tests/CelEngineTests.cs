using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Admission;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// How the engine reads the JSON objects a policy sees: what a policy author can rely on, including
/// where the library differs from cel-go (the README lists these).
/// </summary>
public sealed class CelEngineTests
{
    private static readonly Dictionary<string, object?> Activation = new(StringComparer.Ordinal)
    {
        ["object"] = CelEngine.FromJson(JsonNode.Parse("""
            {"metadata":{"name":"aws-registry","labels":{"app.kubernetes.io/managed-by":"ecr-daemon"}},
             "type":"kubernetes.io/dockerconfigjson","count":3,"ratio":0.5,"flag":false,
             "imagePullSecrets":[{"name":"a"},{"name":"b"}]}
            """)),
        ["oldObject"] = null,
    };

    private static object? Eval(string expression) => new CelEngine().Compile(expression).Evaluate(Activation);

    [Theory]
    [InlineData("has(object.metadata.labels) && !has(object.metadata.annotations)")]
    [InlineData("'app.kubernetes.io/managed-by' in object.metadata.labels")]
    [InlineData("object.metadata.labels['app.kubernetes.io/managed-by'] == 'ecr-daemon'")]
    [InlineData("object.type.startsWith('kubernetes.io/') && object.type.endsWith('json') && object.type.contains('docker')")]
    [InlineData("object.metadata.name.matches('^aws-[a-z]+$')")]
    [InlineData("object.imagePullSecrets.all(s, s.name.size() == 1) && object.imagePullSecrets.exists(s, s.name == 'b')")]
    [InlineData("object.imagePullSecrets.map(s, s.name) == ['a', 'b'] && size(object.imagePullSecrets.filter(s, s.name == 'a')) == 1")]
    [InlineData("object.imagePullSecrets.exists_one(s, s.name == 'a')")]
    [InlineData("object.metadata.name in ['aws-registry', 'other']")]
    [InlineData("object.count == 3 && object.count > 2 && object.ratio == 0.5 && object.flag == false")]
    [InlineData("oldObject == null && (oldObject == null ? true : oldObject.metadata.name == 'x')")]
    [InlineData("object.metadata.labels == {'app.kubernetes.io/managed-by': 'ecr-daemon'}")]
    [InlineData("object.imagePullSecrets[1].name == 'b'")]
    public void Policy_features_evaluate_to_true(string expression) => Assert.Equal(true, Eval(expression));

    [Theory]
    [InlineData("object.metadata.annotations")]
    [InlineData("object.metadata.labels['missing']")]
    [InlineData("object.metadata.labels['missing'] == 'x'")]
    [InlineData("object.metadata.annotations == null")]
    [InlineData("object.imagePullSecrets[5]")]
    [InlineData("1 / 0 == 1")]
    [InlineData("unknownVariable")]
    public void A_missing_field_key_or_index_or_a_runtime_fault_is_an_error(string expression) =>
        Assert.Throws<CelEvaluationException>(() => Eval(expression));

    [Fact]
    public void A_syntax_error_is_a_compile_error() =>
        Assert.Throws<CelCompileException>(() => new CelEngine().Compile("object.metadata.name =="));

    /// <summary>
    /// Deviations a policy can meet, where cel-go answers a "no such key" error: a missing field
    /// (selected with a dot) used inside a larger expression is a marker that compares unequal,
    /// and a field of null is null. Guard with has() as policies should anyway.
    /// </summary>
    [Theory]
    [InlineData("object.metadata.annotations['x'] == 'y'", false)]
    [InlineData("oldObject.metadata == null", true)]
    public void Known_deviation_a_missing_field_inside_an_expression_is_not_an_error(string expression, bool result) =>
        Assert.Equal(result, Eval(expression));
}
