using System.Reflection;
using EcrDaemon.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: Xunit.TestFramework("EcrDaemon.Tests.Support.EarlyPublishTestFramework", "EcrDaemon.Tests")]

namespace EcrDaemon.Tests.Support;

/// <summary>
/// xunit's own framework, which before running the test cases starts <see cref="PublishedDaemon"/>
/// when any of them belongs to a class marked <see cref="UsesPublishedDaemonAttribute"/>, so that the
/// minutes of the Native AOT publish overlap the rest of the run instead of adding to it. A focused
/// run without such a class publishes nothing.
/// </summary>
public sealed class EarlyPublishTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        protected override void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            var cases = testCases.ToList();
            if (cases.Any(c => c.TestMethod.TestClass.Class.GetCustomAttributes(typeof(UsesPublishedDaemonAttribute).AssemblyQualifiedName!).Any()))
            {
                PublishedDaemon.Start();
            }

            base.RunTestCases(cases, executionMessageSink, executionOptions);
        }
    }
}
