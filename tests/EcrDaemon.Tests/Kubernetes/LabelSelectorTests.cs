using EcrDaemon.Kubernetes;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

public sealed class LabelSelectorTests
{
    private static Dictionary<string, string> Labels(params string[] pairs) =>
        pairs.Select(p => p.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);

    private static LabelSelector Parsed(string text)
    {
        Assert.True(LabelSelector.TryParse(text, out var selector, out var error), $"'{text}' should parse, got: {error}");
        Assert.Equal("", error);
        return selector;
    }

    [Theory]
    [InlineData("a=b", true)]
    [InlineData("a==b", true)]
    [InlineData("a!=b", false)]
    [InlineData("a in (x,b)", true)]
    [InlineData("a in (x,y)", false)]
    [InlineData("a notin (b)", false)]
    [InlineData("a notin (x)", true)]
    [InlineData("a", true)]
    [InlineData("!a", false)]
    [InlineData("z", false)]
    [InlineData("!z", true)]
    [InlineData("z!=b", true)]
    [InlineData("z notin (b)", true)]
    [InlineData("z in (b)", false)]
    [InlineData("z=b", false)]
    public void Each_operator_matches_as_kubernetes_does(string text, bool matches)
    {
        var selector = Parsed(text);

        Assert.Equal(matches, selector.Matches(Labels("a=b", "c=d")));
    }

    [Theory]
    [InlineData("a=b,c=d", true)]
    [InlineData("a=b,c=x", false)]
    [InlineData("a in (b,x),c notin (x,y),!z,c", true)]
    [InlineData("a in (b,x),c notin (d,y)", false)]
    [InlineData("a in (x),c=d", false)]
    [InlineData("a,!c", false)]
    public void A_comma_separated_selector_needs_every_requirement(string text, bool matches)
    {
        Assert.Equal(matches, Parsed(text).Matches(Labels("a=b", "c=d")));
    }

    [Theory]
    [InlineData("  a = b  ,  c != x ")]
    [InlineData("a  ==  b,\tc\t!=\tx")]
    [InlineData("a in(b)")]
    [InlineData("a   in   ( y ,  b ) , c notin ( x )")]
    [InlineData("! z , a=b")]
    [InlineData("\na=b\n")]
    public void Whitespace_around_tokens_is_tolerated(string text)
    {
        var selector = Parsed(text);

        Assert.True(selector.Matches(Labels("a=b", "c=d")));
        Assert.False(selector.Matches(Labels("a=x", "c=d")));
        Assert.Equal(text.Trim(), selector.Text);
    }

    [Fact]
    public void A_prefixed_key_is_matched_whole()
    {
        var selector = Parsed("ecr-daemon.io/enabled=true");

        Assert.True(selector.Matches(Labels("ecr-daemon.io/enabled=true")));
        Assert.False(selector.Matches(Labels("ecr-daemon.io/enabled=True")));
        Assert.False(selector.Matches(Labels("enabled=true")));
        Assert.False(selector.Matches(Labels("other.io/enabled=true")));
        Assert.Equal("ecr-daemon.io/enabled=true", selector.Text);
    }

    [Theory]
    [InlineData("ecr-daemon.io/enabled in (true, yes)")]
    [InlineData("!ecr-daemon.io/disabled,ecr-daemon.io/enabled")]
    [InlineData("a.b-c.example.com/My_Label.1 notin (no)")]
    public void Prefixed_keys_work_with_every_operator(string text)
    {
        Assert.True(Parsed(text).Matches(Labels("ecr-daemon.io/enabled=true", "a.b-c.example.com/My_Label.1=yes")));
    }

    [Theory]
    [InlineData("a", false)]
    [InlineData("a=b", false)]
    [InlineData("a in (b)", false)]
    [InlineData("!a", true)]
    [InlineData("a!=b", true)]
    [InlineData("a notin (b)", true)]
    public void Null_or_empty_labels_match_only_negative_requirements(string text, bool matches)
    {
        var selector = Parsed(text);

        Assert.Equal(matches, selector.Matches(null));
        Assert.Equal(matches, selector.Matches(new Dictionary<string, string>()));
    }

    [Fact]
    public void An_empty_value_selects_a_label_whose_value_is_empty()
    {
        var equal = Parsed("a=");
        var inEmptySet = Parsed("a in ()");

        Assert.True(equal.Matches(Labels("a=")));
        Assert.False(equal.Matches(Labels("a=b")));
        Assert.False(equal.Matches(null));
        Assert.True(inEmptySet.Matches(Labels("a=")));
        Assert.False(inEmptySet.Matches(Labels("a=b")));
    }

    [Fact]
    public void Values_are_compared_case_sensitively()
    {
        Assert.False(Parsed("a=B").Matches(Labels("a=b")));
        Assert.False(Parsed("A=b").Matches(Labels("a=b")));
    }

    [Fact]
    public void The_longest_valid_key_and_value_are_accepted()
    {
        var prefix = string.Join('.', Enumerable.Repeat(new string('p', 63), 4))[..253];
        var key = $"{prefix}/{new string('k', 63)}";
        var value = new string('v', 63);

        Assert.True(Parsed($"{key}={value}").Matches(new Dictionary<string, string> { [key] = value }));
    }

    [Theory]
    [InlineData(null, "empty")]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("\t\n", "empty")]
    [InlineData("a=b=c", "'a=b=c'")]
    [InlineData("a==b==c", "'a==b==c'")]
    [InlineData("a!==b", "'a!==b'")]
    [InlineData("a$b=c", "'a$b' is not a valid label key")]
    [InlineData("a b=c", "'a b' is not a valid label key")]
    [InlineData("-a=b", "'-a' is not a valid label key")]
    [InlineData("a-=b", "'a-' is not a valid label key")]
    [InlineData("Ecr-Daemon.io/enabled=true", "'Ecr-Daemon.io/enabled' is not a valid label key")]
    [InlineData("/a=b", "'/a' is not a valid label key")]
    [InlineData("a/=b", "'a/' is not a valid label key")]
    [InlineData("a/b/c=d", "'a/b/c' is not a valid label key")]
    [InlineData("a=b c", "'b c' is not a valid label value")]
    [InlineData("a=-b", "'-b' is not a valid label value")]
    [InlineData("a=(b)", "'(b)' is not a valid label value")]
    [InlineData("a in (x,-y)", "'-y' is not a valid label value")]
    [InlineData("a in (x y)", "'x y' is not a valid label value")]
    [InlineData("a in x", "'a in x'")]
    [InlineData("a in", "'a in'")]
    [InlineData("a notin x,y", "'a notin x'")]
    [InlineData("a in (x", "'a in (x'")]
    [InlineData("a in (x))", "'a in (x))'")]
    [InlineData("a in (x)y", "'a in (x)y'")]
    [InlineData("a IN (x)", "'a IN (x)'")]
    [InlineData("!", "'!'")]
    [InlineData("!a=b", "'a=b'")]
    [InlineData("a b", "'a b'")]
    [InlineData("a=b,", "'' is not a requirement")]
    [InlineData(",a=b", "'' is not a requirement")]
    [InlineData("a=b,,c=d", "'' is not a requirement")]
    [InlineData("a\n/b=c", "not a valid label key")]
    [InlineData("!a\n/b", "not a valid label key")]
    public void What_kube_apiserver_rejects_is_rejected_with_a_reason(string? text, string reason)
    {
        Assert.False(LabelSelector.TryParse(text, out _, out var error), $"'{text}' should not parse");
        Assert.Contains(reason, error, StringComparison.Ordinal);
        var thrown = Assert.Throws<FormatException>(() => LabelSelector.Parse(text!));
        Assert.Contains(error, thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Length_limits_are_those_of_kubernetes()
    {
        var value64 = new string('v', 64);
        var name64 = new string('k', 64);
        var prefix254 = string.Join('.', Enumerable.Repeat(new string('p', 63), 5))[..254];

        Assert.False(LabelSelector.TryParse($"a={value64}", out _, out var valueError));
        Assert.Contains($"'{value64}' is not a valid label value", valueError, StringComparison.Ordinal);
        Assert.False(LabelSelector.TryParse($"a in (b,{value64})", out _, out var setError));
        Assert.Contains($"'{value64}' is not a valid label value", setError, StringComparison.Ordinal);
        Assert.False(LabelSelector.TryParse($"{name64}=b", out _, out var nameError));
        Assert.Contains($"'{name64}' is not a valid label key", nameError, StringComparison.Ordinal);
        Assert.False(LabelSelector.TryParse($"{prefix254}/a", out _, out var prefixError));
        Assert.Contains("is not a valid label key", prefixError, StringComparison.Ordinal);
    }
}
