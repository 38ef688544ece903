"""The generic workflow runtime: it runs whatever BPMN model is deployed and knows nothing of loans.

Only `adapter` touches SpiffWorkflow. The platform's domain (engine.platform, engine.loans) uses
this package; nothing here imports from them.
"""
